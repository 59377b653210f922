"""The default dashboards: one page per layer with a panel for every registry metric,
and an overview with the tutorial's three panels.

The panel kind follows the metric kind: histograms are lines of the average and
p99 (with every alert threshold on that metric drawn across), counters are lines
of their rate, queue-like levels (up-down counters, observed gauges) are bars,
and set gauges are stat tiles.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace

from hms_otel.alerts.model import AlertFile
from hms_otel.dashboards.model import RATE_INTERVAL, Dashboard, Page, Panel, PanelKind, Query, Threshold
from hms_otel.registry import REGISTRY, Kind, MetricDefinition, MetricRegistry

OVERVIEW = "overview"
#: Metrics without a layer (e.g. the facades' own error counter).
OTHER = "other"
PANEL_KINDS: dict[Kind, PanelKind] = {
    Kind.HISTOGRAM: PanelKind.LINES,
    Kind.COUNTER: PanelKind.LINES,
    Kind.UPDOWN_COUNTER: PanelKind.BARS,
    Kind.OBSERVABLE_GAUGE: PanelKind.BARS,
    Kind.GAUGE: PanelKind.STAT,
}


#: Grafana takes uids of at most 40 characters: ``hms-`` and the page id.
MAX_PAGE_ID = 36


def page_id(title: str) -> str:
    """``quick start`` -> ``quick-start``: a page id safe in URLs, file names and Grafana uids.

    A title the ASCII letters and digits do not tell apart (``日本``, ``Café``) or one too long for a
    uid ends in a short hash of :func:`title_key` instead: ``page-1f2e3d4c``, the same at every run, so
    ``日本`` and ``中文`` are two pages, not one called ``layer``.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    faithful = not any(char.isalnum() and not char.isascii() for char in title)
    if slug and faithful and len(slug) <= MAX_PAGE_ID:
        return slug
    digest = hashlib.sha256(title_key(title).encode("utf-8")).hexdigest()[:8]
    return f"{slug[: MAX_PAGE_ID - 9].rstrip('-') or 'page'}-{digest}"


def title_key(title: str) -> str:
    """What two titles of one page share: ``Quick  Start`` and ``quick start`` (case and spacing aside)."""
    return " ".join(unicodedata.normalize("NFC", title).casefold().split())


def queries(metric: MetricDefinition) -> tuple[Query, ...]:
    name = metric.prometheus_name
    if metric.kind is Kind.HISTOGRAM:
        return (
            Query(f"sum(rate({name}_sum[{RATE_INTERVAL}])) / sum(rate({name}_count[{RATE_INTERVAL}]))", "average"),
            Query(f"histogram_quantile(0.99, sum by (le) (rate({name}_bucket[{RATE_INTERVAL}])))", "p99"),
        )
    if metric.kind is Kind.COUNTER:
        return (Query(f"sum(rate({name}[{RATE_INTERVAL}])) * 60", "per minute"),)
    if metric.kind is Kind.GAUGE:
        return (Query(f"avg({name})", metric.name),)
    return (Query(f"sum({name})", metric.name),)


def unit(metric: MetricDefinition) -> str:
    return f"{metric.unit}/min" if metric.kind is Kind.COUNTER else metric.unit


def thresholds(metric: MetricDefinition, alert_files: Iterable[AlertFile]) -> tuple[Threshold, ...]:
    """Thresholds of the alerts on ``metric`` whose value is what the panel draws (average or quantile
    of a histogram, the level of a gauge); a rate alert's threshold would be on another scale."""
    found = []
    for source in alert_files:
        for alert in source.alerts:
            if alert.metric.name != metric.name or alert.condition is None:
                continue
            aggregation = alert.condition.aggregation
            if metric.kind is Kind.HISTOGRAM and aggregation not in ("avg", "p50", "p90", "p95", "p99"):
                continue
            if metric.kind is Kind.COUNTER:
                continue
            found.append(Threshold(alert.condition.threshold, alert.id, alert.severity, alert.condition.op))
    return tuple(sorted(set(found), key=lambda t: (t.value, t.alert)))


def metric_panel(metric: MetricDefinition, alert_files: Iterable[AlertFile] = ()) -> Panel:
    return Panel(
        id=metric.name,
        title=metric.name,
        kind=PANEL_KINDS[metric.kind],
        queries=queries(metric),
        unit=unit(metric),
        description=metric.description,
        metrics=(metric.name,),
        thresholds=thresholds(metric, alert_files),
    )


def tutorial_panels(registry: MetricRegistry, alert_files: Iterable[AlertFile]) -> tuple[Panel, ...]:
    """The HMS-OPS tutorial's glance: ACH latency, citizens waiting, the licence printer."""
    files = list(alert_files)
    panels = []
    if "ach_latency_ms" in registry:
        latency = metric_panel(registry["ach_latency_ms"], files)
        panels.append(replace(latency, id="ach_latency", title="ACH latency"))
    waiting = [registry[name] for name in ("job_queue_depth", "activities_pending") if name in registry]
    if waiting:
        panels.append(
            Panel(
                id="citizens_waiting",
                title="Citizens waiting in queue",
                kind=PanelKind.BARS,
                queries=tuple(Query(f"sum({m.prometheus_name})", f"{m.layer} {m.name}") for m in waiting),
                description="SVC jobs waiting in worker queues and ACT activities not yet finished",
                metrics=tuple(m.name for m in waiting),
            )
        )
    if "license_printer_health" in registry:
        printer = metric_panel(registry["license_printer_health"], files)
        panels.append(replace(printer, id="license_printer", title="License printer health"))
    return tuple(panels)


def default_dashboard(alert_files: Iterable[AlertFile] = (), registry: MetricRegistry = REGISTRY) -> Dashboard:
    files = list(alert_files)
    layers: list[str] = []
    for metric in registry:
        if metric.layer and metric.layer not in layers:
            layers.append(metric.layer)
    pages = [Page(OVERVIEW, "Overview", tutorial_panels(registry, files))]
    for layer in layers:
        panels = tuple(metric_panel(metric, files) for metric in registry.by_layer(layer))
        pages.append(Page(page_id(layer), layer, panels, layer))
    unlayered = tuple(metric_panel(metric, files) for metric in registry if not metric.layer)
    if unlayered:
        pages.append(Page(OTHER, "Other metrics", unlayered))
    return Dashboard(tuple(pages), tuple(layers))
