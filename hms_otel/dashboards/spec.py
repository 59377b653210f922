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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hms_otel import yamlfile
from hms_otel.alerts.spec.fields import FieldReader, Fields, Invalid
from hms_otel.dashboards.model import PanelKind, Query
from hms_otel.errors import Location, Problem, ProblemsError, sorted_problems
from hms_otel.registry import REGISTRY, MetricRegistry
from hms_otel.yamlfile import ListNode, Node, Scalar

SUFFIXES = (".dashboard.yaml", ".dashboard.yml")
FILE_FIELDS = ("page", "panels")
PANEL_FIELDS = ("id", "metric", "title", "kind", "query", "unit", "description", "remove")
QUERY_FIELDS = ("expr", "legend")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}", re.ASCII)


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
    #: Where the page's title is written.
    location: Location
    page: str
    panels: tuple[PanelOverride, ...]


def is_dashboard_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def iter_dashboard_files(directory: str | Path) -> tuple[list[Path], list[Problem]]:
    """``*.dashboard.yaml``/``.yml`` files under ``directory`` (links followed, hidden ones skipped), sorted,
    and a problem for every link that dangles or loops."""
    if not Path(directory).is_dir():
        return [], []
    return yamlfile.find_files(directory, lambda name: name.endswith(SUFFIXES), what="dashboard file")


def load_path(path: str | Path, registry: MetricRegistry = REGISTRY, *, name: str | None = None
              ) -> tuple[DashboardFile | None, list[Problem]]:
    shown = name or str(path)
    try:
        data = yamlfile.read_file_bytes(path, shown, what="dashboard file")
    except ProblemsError as error:
        return None, error.problems
    return load_bytes(data, shown, registry)


def load_bytes(data: bytes | str, path: str, registry: MetricRegistry = REGISTRY
               ) -> tuple[DashboardFile | None, list[Problem]]:
    """Parse dashboard-file content (the project's strict YAML reader); the model or the sorted problems."""
    try:
        root = yamlfile.read_bytes(data, path, what="dashboard file")
    except ProblemsError as error:
        return None, error.problems
    if root is None:
        return None, [Problem(Location(path), "file is empty; expected page: and panels:")]
    reader = _Reader(path, registry)
    result = reader.read(root)
    return (None, sorted_problems(reader.problems)) if reader.problems else (result, [])


class _Reader(FieldReader):
    def read(self, root: Node) -> DashboardFile | None:
        try:
            fields = self.mapping(root, "a dashboard file (page: ..., panels: [...])")
        except Invalid:
            return None
        if self.check_fields(fields, FILE_FIELDS, "a dashboard file"):
            return None
        for required in FILE_FIELDS:
            if required not in fields:
                self.fail(root, f"missing field {required!r}")
        if self.problems:
            return None
        page = self.attempt(lambda: self.text(fields["page"][1], "page", max_length=200).strip(), "")
        panels = self._panels(fields["panels"][1])
        if self.problems:
            return None
        return DashboardFile(self.path, fields["page"][1].location, page, panels)

    def _panels(self, node: Node) -> tuple[PanelOverride, ...]:
        if not isinstance(node, ListNode) or not node.items:
            self.fail(node, "panels must be a non-empty list of panels (- id: ... or - metric: ...)")
            return ()
        panels: list[PanelOverride] = []
        seen: dict[str, Location] = {}
        for entry in node.items:
            try:
                panel = self._panel(entry)
            except Invalid:
                continue
            if panel.id in seen:
                self.fail(panel.location, f"panel {panel.id!r} is already listed at line {seen[panel.id].line}")
                continue
            seen[panel.id] = panel.location
            panels.append(panel)
        return tuple(panels)

    def _panel(self, node: Node) -> PanelOverride:
        fields = self.mapping(node, "a panel")
        if self.check_fields(fields, PANEL_FIELDS, "a panel"):
            raise Invalid()
        readers: dict[str, Callable[[Node], object]] = {
            "id": lambda n: self.panel_id(n),
            "metric": self.metric,
            "title": lambda n: self.text(n, "title", max_length=200).strip(),
            "kind": self.kind,
            "query": self.queries,
            "unit": lambda n: self.text(n, "unit", max_length=40).strip(),
            "description": lambda n: self.text(n, "description").strip(),
            "remove": lambda n: self.value_of(lambda: yamlfile.boolean(n, "remove")),
        }
        values: dict[str, object] = {}
        failed = False
        for name, (_key, value) in fields.items():
            try:
                values["queries" if name == "query" else name] = readers[name](value)
            except Invalid:
                failed = True
        if failed:
            raise Invalid()
        if "id" not in values and "metric" not in values:
            raise self.fail(node, "a panel needs an id (to change a panel) or a metric (to add its panel)")
        if values.get("remove") and len(values) > 2:
            raise self.fail(node, "remove: true takes only the panel id; drop the other fields")
        values.setdefault("id", values.get("metric"))
        return PanelOverride(location=node.location, **values)  # type: ignore[arg-type]

    # -- values ------------------------------------------------------------------------------------------
    def panel_id(self, node: Node) -> str:
        value = self.text(node, "panel id", max_length=128)
        if not _ID.fullmatch(value):
            raise self.fail(node, f"panel id {value!r} must be letters, digits, '_', '.' or '-' "
                                  "(starting with a letter), e.g. ach_latency_ms")
        return value

    def metric(self, node: Node) -> str:
        name = self.text(node, "metric", max_length=255).strip()
        if name not in self.registry:
            close = difflib.get_close_matches(name, [m.name for m in self.registry], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see hms_otel/contract.py)"
            raise self.fail(node, f"unknown metric {name!r}{hint}")
        return name

    def kind(self, node: Node) -> PanelKind:
        value = self.text(node, "kind", max_length=40)
        kinds = [kind.value for kind in PanelKind]
        if value not in kinds:
            raise self.fail(node, f"unknown panel kind {value!r}; use one of {', '.join(kinds)}")
        return PanelKind(value)

    def queries(self, node: Node) -> tuple[Query, ...]:
        """``query: PROMQL`` or ``query: [{expr: PROMQL, legend: TEXT}, ...]``."""
        if isinstance(node, Scalar):
            return (Query(self.promql(node), "value"),)
        if not isinstance(node, ListNode) or not node.items:
            raise self.fail(node, "query must be PromQL text or a non-empty list of {expr: ..., legend: ...}")
        found = []
        for entry in node.items:
            fields: Fields = self.mapping(entry, "a query")
            if self.check_fields(fields, QUERY_FIELDS, "a query"):
                raise Invalid()
            if "expr" not in fields:
                raise self.fail(entry, "a query needs expr: (the PromQL)")
            legend = self.text(fields["legend"][1], "legend", max_length=80) if "legend" in fields else "value"
            found.append(Query(self.promql(fields["expr"][1]), legend))
        return tuple(found)

    def promql(self, node: Node) -> str:
        expr = self.text(node, "query", max_length=4000).strip()
        if "{{" in expr or "}}" in expr:
            raise self.fail(node, "query must not contain template text ('{{' or '}}')")
        if expr.count("(") != expr.count(")") or expr.count("[") != expr.count("]"):
            raise self.fail(node, f"query {expr!r} has unbalanced brackets")
        return expr


__all__ = ["DashboardFile", "PanelOverride", "iter_dashboard_files", "load_bytes", "load_path"]
