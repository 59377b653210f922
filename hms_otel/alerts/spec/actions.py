"""The ``action`` (and ``ticket_action``) section: who is told when an alert fires."""

from __future__ import annotations

from hms_otel.alerts.model import Action
from hms_otel.alerts.spec.fields import FieldReader, Invalid
from hms_otel.alerts.syntax import SyntaxProblem, parse_action
from hms_otel.yamlfile import ListNode, Node

#: Actions that page a person; an alert using one defaults to severity critical.
PAGING_SCHEMES = ("sms", "pagerduty")


def read_actions(reader: FieldReader, node: Node, what: str) -> tuple[Action, ...]:
    """One action or a list of them; every wrong entry is reported."""
    entries = node.items if isinstance(node, ListNode) else (node,)
    if not entries:
        raise reader.fail(node, f"{what} is an empty list; name at least one, e.g. sms:+15551234")
    actions: list[Action] = []
    before = len(reader.problems)
    for entry in entries:
        try:
            _add(reader, entry, what, actions)
        except Invalid:
            continue  # reported; check the other entries too
    if len(reader.problems) != before:
        raise Invalid()
    return tuple(actions)


def _add(reader: FieldReader, entry: Node, what: str, actions: list[Action]) -> None:
    text = reader.text(entry, what, max_length=500)
    try:
        action = parse_action(text)
    except SyntaxProblem as problem:
        raise reader.fail(entry, problem.message, problem.offset) from None
    if action not in actions:
        actions.append(Action(action.scheme, action.target, entry.location))
