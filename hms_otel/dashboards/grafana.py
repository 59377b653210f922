# The SDK needs Python 3.11 (enum.StrEnum, typing.Self); mypy checking for 3.10 sees its enums as str and
# its builders' `Self` as Any. Checked clean with --python-version 3.11.
# mypy: disable-error-code="arg-type,no-any-return"
"""The same dashboards as Grafana dashboard JSON, built with grafana-foundation-sdk (Python 3.11+).

One Grafana dashboard per page (uid ``hms-<page>``). Datasources are dashboard
variables (``$prometheus``, ``$logs``), so the JSON imports into any Grafana
whatever its datasources are called. Queries are the local panels' queries,
unchanged (Grafana fills in ``$__rate_interval`` itself).
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.builders import stat as stat_builders
from grafana_foundation_sdk.builders import timeseries as timeseries_builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

from hms_otel.dashboards.model import Dashboard, Page, Panel, PanelKind
from hms_otel.dashboards.outputs import write_export

PROMETHEUS_VARIABLE = "prometheus"
LOGS_VARIABLE = "logs"
#: The VictoriaLogs datasource plugin's type id (the local stack's log store).
LOGS_DATASOURCE_TYPE = "victoriametrics-logs-datasource"
_PROMETHEUS = dashboard_models.DataSourceRef(type_val="prometheus", uid=f"${{{PROMETHEUS_VARIABLE}}}")
_SEVERITY_COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
_UNITS = {"ms": "ms", "s": "s", "1": "none"}


def _unit(unit: str) -> str:
    """Grafana unit ids for what it knows; ``suffix: {job}`` style text for the rest."""
    if unit in _UNITS:
        return _UNITS[unit]
    return f"suffix: {unit.replace('{', '').replace('}', '')}" if unit else "none"


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
#: Most severe first: where several alerts would fire, the region takes the first colour.
_SEVERITY_ORDER = ("critical", "warning", "info")


def _region_colour(panel: Panel, value: float) -> str:
    """The colour of a value: that of the most severe alert firing at it, green when none would."""
    firing = [t for t in panel.thresholds if _COMPARE.get(t.op, _COMPARE[">"])(value, t.value)]
    if not firing:
        return "green"
    worst = min(firing, key=lambda t: _SEVERITY_ORDER.index(t.severity) if t.severity in _SEVERITY_ORDER else 0)
    return _SEVERITY_COLOURS.get(worst.severity, "red")


def _thresholds(panel: Panel) -> dashboard_builders.ThresholdsConfig:
    """Grafana's steps colour every value from a step up; each region between two alert thresholds takes
    the colour of the alerts that fire inside it, so ``< 2`` (a printer's health) is red below 2, not above."""
    values = sorted({t.value for t in panel.thresholds})
    # A point inside each region: Grafana's regions start at their step; "==" fires on the line only.
    inside = [values[0] - 1] if values else [0.0]
    inside += [(low + high) / 2 for low, high in itertools.pairwise(values)]
    inside += [values[-1] + 1] if values else []
    steps = [dashboard_models.Threshold(value=None, color=_region_colour(panel, inside[0]))]
    for start, point in zip(values, inside[1:], strict=True):
        colour = _region_colour(panel, point)
        if colour != steps[-1].color:
            steps.append(dashboard_models.Threshold(value=start, color=colour))
    return dashboard_builders.ThresholdsConfig().mode(dashboard_models.ThresholdsMode.ABSOLUTE).steps(steps)


def _targets(panel: Panel, instant: bool) -> list[Builder[Dataquery]]:
    targets: list[Builder[Dataquery]] = []
    for index, query in enumerate(panel.queries):
        target = prometheus_builders.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(chr(65 + index))
        targets.append(target.instant() if instant else target.range())
    return targets


def panel_builder(panel: Panel, index: int) -> timeseries_builders.Panel | stat_builders.Panel:
    builder: timeseries_builders.Panel | stat_builders.Panel
    if panel.kind is PanelKind.STAT:
        stat = stat_builders.Panel().targets(_targets(panel, instant=True))
        builder = stat.color_scheme(
            dashboard_builders.FieldColor().mode(dashboard_models.FieldColorModeId.THRESHOLDS))
    else:
        lines = timeseries_builders.Panel().targets(_targets(panel, instant=False))
        if panel.kind is PanelKind.BARS:
            lines = lines.draw_style(common_models.GraphDrawStyle.BARS).fill_opacity(60)
        if panel.thresholds:
            lines = lines.thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(common_models.GraphThresholdsStyleMode.LINE))
        builder = lines
    return (builder.id(index + 1).title(panel.title).description(panel.description).datasource(_PROMETHEUS)
            .unit(_unit(panel.unit)).thresholds(_thresholds(panel)).height(8).span(12))


def page_builder(page: Page, dashboard: Dashboard) -> dashboard_builders.Dashboard:
    builder = (
        dashboard_builders.Dashboard(f"HMS {page.title}")
        .uid(f"hms-{page.id}")
        .tags(["hms", *([page.layer] if page.layer else [])])
        .time("now-1h", "now")
        .refresh("10s")
        .with_variable(dashboard_builders.DatasourceVariable(PROMETHEUS_VARIABLE).label("Prometheus")
                       .type("prometheus"))
        .with_variable(dashboard_builders.DatasourceVariable(LOGS_VARIABLE).label("Logs")
                       .type(LOGS_DATASOURCE_TYPE))
        .link(dashboard_builders.DashboardLink("HMS").type(dashboard_models.DashboardLinkType.DASHBOARDS)
              .tags(["hms"]).as_dropdown(True))
    )
    for index, panel in enumerate(page.panels):
        builder = builder.with_panel(panel_builder(panel, index))
    return builder


def to_json(dashboard: Dashboard) -> dict[str, str]:
    """File name -> Grafana dashboard JSON text, one per page."""
    return {
        f"hms-{page.id}.json": json.dumps(page_builder(page, dashboard).build(), cls=JSONEncoder, indent=2,
                                          sort_keys=True) + "\n"
        for page in dashboard.pages
    }


def export(dashboard: Dashboard, directory: Path, alert_dir: Path | None = None) -> list[Path]:
    """One file per page into ``directory``, all or none, checked first against the alert folder ``alert_dir``
    the dashboard was read from (:func:`hms_otel.dashboards.outputs.write_export`); every path."""
    return write_export(alert_dir, directory, to_json(dashboard))
