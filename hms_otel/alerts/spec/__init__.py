"""Alert files -> model, with every problem located at ``file:line:col``.

The file is read by the project's one strict YAML reader
(:mod:`hms_otel.yamlfile`) into nodes that know where they were written; each
section of an alert or SLO is read by its own module (``metric``, ``actions``,
``labels``, ``alert``, ``slo``). Problems are collected, not raised, so a user
sees all of them at once, sorted by position. Nothing in here may raise for any
input; the property tests and the hostile corpus throw arbitrary bytes at it.
"""

from __future__ import annotations

from pathlib import Path

from hms_otel.alerts.folder import iter_alert_files
from hms_otel.alerts.model import Alert, AlertFile, Slo
from hms_otel.alerts.spec.alert import ALERT_FIELDS, SEVERITIES, read_alert
from hms_otel.alerts.spec.fields import NAME_RULE, FieldReader, Fields, Invalid, written_stem
from hms_otel.alerts.spec.slo import SLO_FIELDS, read_slo
from hms_otel.alerts.syntax import shown
from hms_otel.errors import Location, Problem, ProblemsError, sorted_problems
from hms_otel.registry import REGISTRY, MetricRegistry
from hms_otel.yamlfile import MAX_BYTES, ListNode, MapNode, Node, read_bytes, read_file_bytes

__all__ = ["ALERT_FIELDS", "MAX_FILE_BYTES", "SEVERITIES", "SLO_FIELDS", "iter_alert_files", "load_bytes",
           "load_path"]

#: Bytes an alert file may have; beyond that it is not an alert file.
MAX_FILE_BYTES = MAX_BYTES


def load_path(path: str | Path, registry: MetricRegistry = REGISTRY, *, name: str | None = None
              ) -> tuple[AlertFile | None, list[Problem]]:
    """Read and parse one alert file. ``name`` is how the file is shown in messages."""
    shown = name or str(path)
    try:
        data = read_file_bytes(path, shown, what="alert file")
    except ProblemsError as error:
        return None, error.problems
    return load_bytes(data, shown, registry)


def load_bytes(data: bytes | str, path: str, registry: MetricRegistry = REGISTRY
               ) -> tuple[AlertFile | None, list[Problem]]:
    """Parse alert-file content; returns the model (``None`` when unusable) and the problems, sorted."""
    try:
        root = read_bytes(data, path, what="alert file")
    except ProblemsError as error:
        return None, error.problems
    if root is None:
        empty = (isinstance(data, bytes) and not data.strip()) or (isinstance(data, str) and not data.strip())
        message = ("file is empty; expected an alert (metric, when, action) or a list of them" if empty else
                   "file has no alerts (only comments?); expected an alert (metric, when, action) or a list")
        return None, [Problem(Location(path), message)]
    reader = FieldReader(path, registry)
    result = _read_file(reader, root)
    if reader.problems:
        return None, sorted_problems(reader.problems)
    return result, []


def _read_file(reader: FieldReader, root: Node) -> AlertFile | None:
    items = _items(reader, root)
    group = reader.stem
    alerts: list[Alert] = []
    slos: list[Slo] = []
    groups: dict[str, Node] = {}
    for index, (node, fields) in enumerate(items):
        default_id = group if len(items) == 1 else f"{group}_{index + 1}"
        try:
            item: Alert | Slo = read_slo(reader, node, fields) if "slo" in fields else read_alert(
                reader, node, fields, default_id)
        except Invalid:
            continue
        if "group" in fields:
            groups.setdefault(item.group, fields["group"][1])
        if isinstance(item, Slo):
            slos.append(item)
        else:
            alerts.append(item)
    names = {alert.group for alert in alerts} | {slo.group for slo in slos}
    if len(names) > 1:
        later = sorted(groups.items(), key=lambda pair: (pair[1].line, pair[1].column))
        reader.fail(later[-1][1], f"all alerts of one file form one rule group; this file uses "
                                  f"{', '.join(sorted(names))} (split it into files instead)")
    if reader.problems:
        return None
    return AlertFile(reader.path, next(iter(names)) if names else group, tuple(alerts), tuple(slos),
                     _name_note(reader, [fields for _node, fields in items]))


def _name_note(reader: FieldReader, fields_list: list[Fields]) -> tuple[Problem, ...]:
    """A warning when a default name or group had to be made from a file name that is not one."""
    if reader.stem == written_stem(reader.path):
        return ()
    named = [kind for kind, used in (
        ("alert name", any("slo" not in fields and "name" not in fields for fields in fields_list)),
        ("rule group", any("group" not in fields for fields in fields_list))) if used]
    if not named:
        return ()
    fields_to_set = " and ".join(f"{'name' if kind == 'alert name' else 'group'}:" for kind in named)
    return (Problem(Location(reader.path), (
        f"{' and '.join(named)} {reader.stem!r} made from the file name {shown(Path(reader.path).name)} "
        f"(names are {NAME_RULE}); set {fields_to_set} to choose {'it' if len(named) == 1 else 'them'}"),
        "warning"),)


def _items(reader: FieldReader, root: Node) -> list[tuple[MapNode, Fields]]:
    nodes: tuple[Node, ...]
    if isinstance(root, ListNode):
        if not root.items:
            reader.fail(root, "the list of alerts is empty")
            return []
        nodes = root.items
    elif isinstance(root, MapNode):
        foreign = _foreign(root)
        if foreign is not None:
            reader.fail(*foreign)
            return []
        nodes = (root,)
    else:
        reader.fail(root, "expected an alert (a mapping with metric, when, action) or a list of them, "
                          f"not {root.describe()}")
        return []
    items = []
    for node in nodes:
        if isinstance(node, MapNode):
            items.append((node, node.fields()))
        else:
            reader.fail(node, f"expected an alert (a mapping of field: value), not {node.describe()}")
    return items


#: Top-level keys of the YAML files that end up next to alert files (often compiled from them), and what
#: they mean: such a file is not an alert with typos, and "did you mean 'group'?" would send users astray.
_FOREIGN_KEYS = (("groups", "a Prometheus rules file"), ("route", "an Alertmanager config"),
                 ("receivers", "an Alertmanager config"),
                 ("apiVersion", "a Kubernetes resource such as a PrometheusRule"))


def _foreign(root: MapNode) -> tuple[Node, str] | None:
    """Where and why ``root`` is another tool's file rather than an alert, or ``None``."""
    fields = root.fields()
    if "metric" in fields or "slo" in fields:
        return None
    for key, what in _FOREIGN_KEYS:
        if key in fields:
            return fields[key][0], (f"this looks like {what} (top-level {key!r}), not an alert file (metric, when, "
                                    "action); move it out of the alert folder")
    return None
