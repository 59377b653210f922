"""Hostile dashboard files (``*.dashboard.yaml``): the same strict reader, the dashboard's own fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hms_otel.dashboards import spec

from .runner import CHECKERS, Case, Error, Means, Outcome, case


def check_dashboard_file(content: bytes, name: str) -> Outcome:
    parsed, problems = spec.load_bytes(content, name)
    return Outcome(problems, parsed)


CHECKERS["dashboard"] = check_dashboard_file

PAGE = "page: ACH\npanels:\n"


def d(name: str, content: str | bytes, expect: Error | Means) -> Case:
    return case("dashboard", name, content, expect)


def _panel(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda parsed: check(parsed.panels[0])


CASES = [
    d("ok_title", PAGE + "  - id: ach_latency_ms\n    title: ACH clearing time\n",
      Means("a title change", _panel(lambda p: (p.id, p.title) == ("ach_latency_ms", "ACH clearing time")))),
    d("title_version_like", PAGE + "  - id: ach_latency_ms\n    title: 1.10\n",
      Means("1.10 stays the text 1.10", _panel(lambda p: p.title == "1.10"))),
    d("title_yes", PAGE + "  - id: ach_latency_ms\n    title: yes\n",
      Means("yes stays the text yes", _panel(lambda p: p.title == "yes"))),
    d("remove_yes", PAGE + "  - id: ach_latency_ms\n    remove: yes\n", Error(4, "write true")),
    d("remove_on", PAGE + "  - id: ach_latency_ms\n    remove: on\n", Error(4, "write true")),
    d("remove_true", PAGE + "  - id: ach_latency_ms\n    remove: true\n",
      Means("remove: true removes", _panel(lambda p: p.remove is True))),
    d("anchor", PAGE + "  - &p {id: ach_latency_ms}\n  - *p\n", Error(3, "anchor &p")),
    d("tag", PAGE + "  - id: !!str ach_latency_ms\n", Error(3, "YAML tag")),
    d("duplicate_key", PAGE + "  - id: a\n    id: b\n", Error(4, "duplicate key 'id'")),
    d("duplicate_page", "page: ACH\npage: SVC\npanels: []\n", Error(2, "duplicate key 'page'")),
    d("undecodable", b"page: \xff\npanels: []\n", Error(1, "not UTF-8 text")),
    d("escape_in_title", PAGE + '  - id: ach_latency_ms\n    title: "\\x1b[2J"\n', Error(4, "control character")),
    d("template_in_query", PAGE + "  - id: x_rate\n    title: x\n    kind: lines\n    query: '{{ .x }}'\n",
      Error(6, "template text")),
    d("unbalanced_query", PAGE + "  - id: x_rate\n    title: x\n    kind: lines\n    query: 'sum(up'\n",
      Error(6, "unbalanced brackets")),
    d("long_query", PAGE + "  - id: x_rate\n    title: x\n    kind: lines\n    query: '" + "(" * 5000 + "'\n",
      Error(6, "at most 4000")),
    d("unknown_kind", PAGE + "  - id: x_rate\n    kind: pie\n", Error(4, "unknown panel kind 'pie'")),
    d("unknown_metric", PAGE + "  - metric: no_such_metric_total\n", Error(3, "unknown metric")),
    d("metric_arabic_digits", PAGE + "  - metric: ach_latency_ms\u0663\n", Error(3, "unknown metric")),
    d("bad_panel_id", PAGE + "  - id: '{{x}}'\n", Error(3, "panel id")),
    d("deep_nesting", "page: ACH\npanels: " + "[" * 100 + "]" * 100 + "\n", Error(2, "nested more than 64")),
    d("empty_panels", "page: ACH\npanels: []\n", Error(2, "non-empty list")),
    d("unknown_field", PAGE + "  - id: ach_latency_ms\n    colour: red\n", Error(4, "unknown field 'colour'")),
    d("too_large", "page: ACH\n#" + "x" * 1_000_001 + "\n", Error(1, "larger than 1000000 bytes")),
    d("second_document", PAGE + "  - id: a\n---\npage: SVC\n", Error(4, "a second YAML document")),
]
