"""Team dashboard files (``*.dashboard.yaml`` next to the alert files) -> overrides, located problems.

A file changes one page::

    page: ACH                       # a layer, "overview", or the title of a new page
    panels:
      - id: ach_latency_ms          # a panel already on the page: change what is given
        title: ACH clearing time
      - metric: refund_pdf_total    # the default panel of a registry metric, added here
      - id: refunds_per_hour        # a new panel
        title: Refunds per hour
        kind: lines                 # lines, bars or stat
        query: sum(increase(refund_pdf_total[1h]))
        unit: "{pdf}/h"
      - id: ach_batch_size
        remove: true

Problems are collected (all of them at once), each at ``file:line:col``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from hms_otel.alerts.model import Location, Problem
from hms_otel.dashboards.model import PanelKind, Query
from hms_otel.registry import REGISTRY, MetricRegistry

SUFFIXES = (".dashboard.yaml", ".dashboard.yml")
FILE_FIELDS = ("page", "panels")
PANEL_FIELDS = ("id", "metric", "title", "kind", "query", "unit", "description", "remove")
QUERY_FIELDS = ("expr", "legend")
MAX_FILE_BYTES = 200_000
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
_STANDARD_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}


@dataclass(frozen=True)
class PanelOverride:
    """One entry of ``panels:``; ``None`` means "not given" (keep what the panel has)."""

    location: Location
    id: str
    metric: str | None = None
    title: str | None = None
    kind: PanelKind | None = None
    queries: tuple[Query, ...] | None = None
    unit: str | None = None
    description: str | None = None
    remove: bool = False


@dataclass(frozen=True)
class DashboardFile:
    path: str
    location: Location
    page: str
    panels: tuple[PanelOverride, ...]


class _Invalid(Exception):
    """Internal: this value is wrong and has been reported."""


def is_dashboard_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def iter_dashboard_files(directory: str | Path) -> Iterator[Path]:
    """``*.dashboard.yaml``/``.yml`` files under ``directory`` (recursively, hidden ones skipped), sorted."""
    root = Path(directory)
    if not root.is_dir():
        return iter(())
    files = [p for p in root.rglob("*") if is_dashboard_file(p) and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return iter(sorted(files))


def load_path(path: str | Path, registry: MetricRegistry = REGISTRY, *, name: str | None = None
              ) -> tuple[DashboardFile | None, list[Problem]]:
    shown = name or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, [Problem(Location(shown), f"cannot read file: {error.strerror or error}")]
    return load_bytes(data, shown, registry)


def load_bytes(data: bytes | str, path: str, registry: MetricRegistry = REGISTRY
               ) -> tuple[DashboardFile | None, list[Problem]]:
    reader = _Reader(path, registry)
    try:
        result = reader.read(data)
    except RecursionError:
        return None, [Problem(Location(path), "the YAML is nested too deeply to be a dashboard file")]
    return (None, reader.problems) if reader.problems else (result, [])


class _Reader:
    def __init__(self, path: str, registry: MetricRegistry) -> None:
        self.path = path
        self.registry = registry
        self.problems: list[Problem] = []

    def at(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: yaml.Node, message: str) -> _Invalid:
        self.problems.append(Problem(self.at(node), message))
        return _Invalid()

    # -- document ----------------------------------------------------------------------------------------
    def read(self, data: bytes | str) -> DashboardFile | None:
        root = self._compose(data)
        if root is None:
            return None
        try:
            fields = self.mapping(root, "a dashboard file (page: ..., panels: [...])")
        except _Invalid:
            return None
        self.check_fields(fields, FILE_FIELDS, "a dashboard file")
        for required in FILE_FIELDS:
            if required not in fields:
                self.problems.append(Problem(self.at(root), f"missing field {required!r}"))
        if self.problems:
            return None
        try:
            page = self.text(fields["page"][1], "page")
        except _Invalid:
            page = ""
        panels = self._panels(fields["panels"][1])
        if self.problems:
            return None
        return DashboardFile(self.path, self.at(root), page, panels)

    def _compose(self, data: bytes | str) -> yaml.Node | None:
        if isinstance(data, bytes):
            if len(data) > MAX_FILE_BYTES:
                self.problems.append(Problem(Location(self.path), f"file is larger than {MAX_FILE_BYTES} bytes; "
                                                                  "this is not a dashboard file"))
                return None
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                line = data.count(b"\n", 0, error.start) + 1
                column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
                self.problems.append(Problem(Location(self.path, line, column),
                                             f"not UTF-8 text (byte 0x{data[error.start]:02x})"))
                return None
        else:
            text = data
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
            location = Location(self.path, mark.line + 1, mark.column + 1) if mark else Location(self.path)
            self.problems.append(Problem(location, f"invalid YAML: {message}"))
            return None
        except yaml.YAMLError as error:
            self.problems.append(Problem(Location(self.path), f"invalid YAML: {error}".splitlines()[0]))
            return None
        if root is None:
            self.problems.append(Problem(Location(self.path), "file is empty; expected page: and panels:"))
        return root

    def _panels(self, node: yaml.Node) -> tuple[PanelOverride, ...]:
        self.check_tag(node)
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, "panels must be a non-empty list of panels (- id: ... or - metric: ...)")
            return ()
        panels: list[PanelOverride] = []
        seen: dict[str, Location] = {}
        for entry in node.value:
            try:
                panel = self._panel(entry)
            except _Invalid:
                continue
            if panel.id in seen:
                self.problems.append(Problem(panel.location, f"panel {panel.id!r} is already listed at line "
                                                             f"{seen[panel.id].line}"))
                continue
            seen[panel.id] = panel.location
            panels.append(panel)
        return tuple(panels)

    def _panel(self, node: yaml.Node) -> PanelOverride:
        fields = self.mapping(node, "a panel")
        if self.check_fields(fields, PANEL_FIELDS, "a panel"):
            raise _Invalid
        values: dict[str, object] = {}
        readers: dict[str, Callable[[yaml.Node], object]] = {
            "id": lambda n: self.identifier(n, "panel id"),
            "metric": self.metric,
            "title": lambda n: self.text(n, "title", max_length=200),
            "kind": self.kind,
            "query": self.queries,
            "unit": lambda n: self.text(n, "unit", max_length=40),
            "description": lambda n: self.text(n, "description"),
            "remove": lambda n: self.boolean(n, "remove"),
        }
        failed = False
        for name, (_key, value) in fields.items():
            try:
                values["queries" if name == "query" else name] = readers[name](value)
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid
        if "id" not in values and "metric" not in values:
            raise self.fail(node, "a panel needs an id (to change a panel) or a metric (to add its panel)")
        if values.get("remove") and len(values) > 2:
            raise self.fail(node, "remove: true takes only the panel id; drop the other fields")
        values.setdefault("id", values.get("metric"))
        return PanelOverride(location=self.at(node), **values)  # type: ignore[arg-type]

    # -- values ------------------------------------------------------------------------------------------
    def check_tag(self, node: yaml.Node) -> None:
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, f"YAML tag {node.tag!r} is not allowed in dashboard files; write plain values")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        self.check_tag(node)
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"expected {what} (a mapping of field: value), not {_describe(node)}")
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                raise self.fail(key, f"field names must be plain text, not {_describe(key)}")
            if key.value in fields:
                raise self.fail(key, f"duplicate field {key.value!r} (first set on line "
                                     f"{fields[key.value][0].start_mark.line + 1})")
            fields[key.value] = (key, value)
        return fields

    def check_fields(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...],
                     what: str) -> bool:
        unknown = False
        for name, (key, _value) in fields.items():
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
                self.fail(key, f"unknown field {name!r} in {what}{hint}")
                unknown = True
        return unknown

    def scalar(self, node: yaml.Node, what: str) -> object:
        self.check_tag(node)
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, not {_describe(node)}")
        try:
            return yaml.SafeLoader("").construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            raise self.fail(node, f"{what}: cannot read this value") from None

    def text(self, node: yaml.Node, what: str, *, max_length: int = 2000) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str):
            raise self.fail(node, f"{what} must be text, not {type(value).__name__}: {value!r}")
        if not value.strip():
            raise self.fail(node, f"{what} is empty")
        if len(value) > max_length:
            raise self.fail(node, f"{what} is {len(value)} characters long; at most {max_length} are allowed")
        if any(ord(char) < 32 and char not in "\n\t" for char in value):
            raise self.fail(node, f"{what} contains control characters")
        return value.strip()

    def identifier(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise self.fail(node, f"{what} {value!r} must be letters, digits, '_', '.' or '-' "
                                  "(starting with a letter), e.g. ach_latency_ms")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.scalar(node, what)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false, not {value!r}")
        return value

    def metric(self, node: yaml.Node) -> str:
        name = self.text(node, "metric", max_length=255)
        if name not in self.registry:
            close = difflib.get_close_matches(name, [m.name for m in self.registry], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see hms_otel/contract.py)"
            raise self.fail(node, f"unknown metric {name!r}{hint}")
        return name

    def kind(self, node: yaml.Node) -> PanelKind:
        value = self.scalar(node, "kind")
        kinds = [kind.value for kind in PanelKind]
        if value not in kinds:
            raise self.fail(node, f"unknown panel kind {value!r}; use one of {', '.join(kinds)}")
        return PanelKind(value)

    def queries(self, node: yaml.Node) -> tuple[Query, ...]:
        """``query: PROMQL`` or ``query: [{expr: PROMQL, legend: TEXT}, ...]``."""
        self.check_tag(node)
        if isinstance(node, yaml.ScalarNode):
            return (Query(self.promql(node), "value"),)
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, "query must be PromQL text or a non-empty list of {expr: ..., legend: ...}")
        found = []
        for entry in node.value:
            fields = self.mapping(entry, "a query")
            if self.check_fields(fields, QUERY_FIELDS, "a query"):
                raise _Invalid
            if "expr" not in fields:
                raise self.fail(entry, "a query needs expr: (the PromQL)")
            legend = self.text(fields["legend"][1], "legend", max_length=80) if "legend" in fields else "value"
            found.append(Query(self.promql(fields["expr"][1]), legend))
        return tuple(found)

    def promql(self, node: yaml.Node) -> str:
        expr = self.text(node, "query", max_length=4000)
        if "{{" in expr or "}}" in expr:
            raise self.fail(node, "query must not contain template text ('{{' or '}}')")
        if expr.count("(") != expr.count(")") or expr.count("[") != expr.count("]"):
            raise self.fail(node, f"query {expr!r} has unbalanced brackets")
        return expr


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"
