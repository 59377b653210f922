"""The local dashboard as static files: the page (package data), uPlot (from the cache) and
``dashboards.json`` (the model). Prometheus serves the directory under ``/user/``
(``--web.user-assets``), on the same origin as the API the page reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hms_otel.dashboards.alert_sources import write_sources
from hms_otel.dashboards.model import Dashboard, Panel
from hms_otel.dashboards.uplot import FILES, find_uplot
from hms_otel.outputs import write_all, write_atomically
from hms_otel.registry import REGISTRY, Kind, MetricRegistry

PAGE_FILES = ("index.html", "app.js", "app.css")
SPEC_FILE = "dashboards.json"
#: Where the page is, relative to Prometheus' URL.
PAGE_PATH = "/user/index.html"
REFRESH_SECONDS = 10


@dataclass(frozen=True)
class Links:
    """Other UIs the page links to (links only: the page never fetches from them)."""

    alertmanager: str | None = None
    logs: str | None = None


def presence_series(metric_name: str, registry: MetricRegistry = REGISTRY) -> str:
    """The one series whose presence means ``metric_name`` has data (``_count`` for a histogram)."""
    metric = registry.get(metric_name)
    if metric is None:
        return metric_name
    return f"{metric.prometheus_name}_count" if metric.kind is Kind.HISTOGRAM else metric.prometheus_name


def _panel(panel: Panel, registry: MetricRegistry) -> dict[str, Any]:
    return {
        "id": panel.id,
        "title": panel.title,
        "kind": panel.kind.value,
        "unit": panel.unit,
        "description": panel.description,
        "queries": [{"expr": q.expr, "legend": q.legend} for q in panel.queries],
        "metrics": [presence_series(name, registry) for name in panel.metrics],
        "thresholds": [{"value": t.value, "alert": t.alert, "severity": t.severity} for t in panel.thresholds],
    }


def page_spec(dashboard: Dashboard, links: Links = Links(), registry: MetricRegistry = REGISTRY) -> dict[str, Any]:
    """What ``dashboards.json`` holds: the model plus the series that tell whether a layer has data."""
    return {
        "layers": list(dashboard.layers),
        "layer_series": {
            layer: [presence_series(m.name, registry) for m in registry.by_layer(layer)] for layer in dashboard.layers
        },
        "pages": [
            {"id": page.id, "title": page.title, "layer": page.layer,
             "panels": [_panel(panel, registry) for panel in page.panels]}
            for page in dashboard.pages
        ],
        "links": {"alertmanager": links.alertmanager, "logs": links.logs},
        "refresh_seconds": REFRESH_SECONDS,
    }


def _spec_text(dashboard: Dashboard, links: Links) -> str:
    return json.dumps(page_spec(dashboard, links), indent=1)


def write_spec(directory: Path, dashboard: Dashboard, links: Links = Links()) -> None:
    """(Re)write ``dashboards.json`` atomically, so a page loading at that moment reads a whole file."""
    write_atomically(directory / SPEC_FILE, _spec_text(dashboard, links))


def write_site(directory: Path, dashboard: Dashboard, links: Links = Links(), journal_dir: Path | None = None) -> None:
    """Everything the page needs in ``directory``, all files or none (:func:`hms_otel.outputs.write_all`);
    raises MissingBinary when uPlot is not installed.

    ``journal_dir``: the notifier's journal, where the alerts' probable sources come from.
    """
    uplot = find_uplot()
    web = resources.files("hms_otel.dashboards") / "web"
    contents: dict[Path, str | bytes] = {directory / name: (uplot / name).read_bytes() for name in FILES.values()}
    contents.update({directory / name: (web / name).read_bytes() for name in PAGE_FILES})
    contents[directory / SPEC_FILE] = _spec_text(dashboard, links)
    write_all(contents)
    write_sources(directory, journal_dir)
