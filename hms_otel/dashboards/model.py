"""What a dashboard is, once built: plain frozen dataclasses every generator reads.

Queries may use ``$__rate_interval``: Grafana fills it in itself, the local page
computes it from the chosen range, so one query text serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hms_otel.errors import Location

RATE_INTERVAL = "$__rate_interval"


class PanelKind(str, Enum):
    #: Lines over time: latency (average and p99 against the alert threshold), counter rates.
    LINES = "lines"
    #: Bars over time: levels such as queue depth or pending work.
    BARS = "bars"
    #: One big current value, coloured from the alert state of its metric.
    STAT = "stat"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Threshold:
    """A line drawn at an alert's threshold (``alert`` is the rule's name)."""

    value: float
    alert: str
    severity: str
    #: The alert's comparison (``>``, ``<``, ``>=``, ``<=``, ``==``, ``!=``): which side of the line is bad.
    op: str = ">"


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    kind: PanelKind
    queries: tuple[Query, ...]
    unit: str = ""
    description: str = ""
    #: Registry metrics the panel shows; the page checks their series to tell "no data" from "zero".
    metrics: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    #: Where the panel was defined or last overridden (a team file), for messages.
    source: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Page:
    id: str
    title: str
    panels: tuple[Panel, ...]
    #: The HMS layer this page is about; ``None`` for the overview.
    layer: str | None = None


@dataclass(frozen=True)
class Dashboard:
    pages: tuple[Page, ...]
    #: Every layer, in registry order: the overview shows one tile each.
    layers: tuple[str, ...]

    def page(self, page_id: str) -> Page | None:
        return next((page for page in self.pages if page.id == page_id), None)

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(panel for page in self.pages for panel in page.panels)
