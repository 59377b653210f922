"""Grafana export: validated against grafana-foundation-sdk's own models, same queries as the local page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk needs Python 3.11+")

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as GrafanaDashboard
from grafana_foundation_sdk.models.prometheus import Dataquery

from hms_otel.cli import cli
from hms_otel.dashboards import grafana
from hms_otel.dashboards.build import load
from hms_otel.dashboards.site import page_spec

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"


def test_export_round_trips_through_the_sdk_models_with_the_local_queries(tmp_path: Path) -> None:
    register_default_plugins()
    dashboard = load(ALERT_RULES)
    written = grafana.export(dashboard, tmp_path)
    assert sorted(p.name for p in written) == sorted(f"hms-{page.id}.json" for page in dashboard.pages)
    for page in dashboard.pages:
        data = json.loads((tmp_path / f"hms-{page.id}.json").read_text())
        model = GrafanaDashboard.from_json(data)
        # Nothing lost or unknown to the SDK (which only adds an empty `custom` field config on the way back).
        assert _without_empty_custom(json.loads(json.dumps(model, cls=JSONEncoder))) == data
        assert model.uid == f"hms-{page.id}"
        variables = {v.name: v.query for v in model.templating.list_val}
        assert variables == {"prometheus": "prometheus", "logs": grafana.LOGS_DATASOURCE_TYPE}
        assert len(model.panels) == len(page.panels)
        for exported, local in zip(model.panels, page.panels, strict=True):
            assert exported.title == local.title
            assert exported.datasource.uid == "${prometheus}"
            assert all(isinstance(target, Dataquery) for target in exported.targets)
            assert [t.expr for t in exported.targets] == [q.expr for q in local.queries]
            assert [t.legend_format for t in exported.targets] == [q.legend for q in local.queries]
            assert exported.type_val == ("stat" if local.kind.value == "stat" else "timeseries")


def _without_empty_custom(data: dict) -> dict:
    for panel in data["panels"]:
        defaults = panel["fieldConfig"]["defaults"]
        if defaults.get("custom") == {}:
            del defaults["custom"]
    return data


def test_thresholds_and_bars_reach_grafana() -> None:
    dashboard = load(ALERT_RULES)
    exported = json.loads(grafana.to_json(dashboard)["hms-quick-start.json"])
    latency = next(p for p in exported["panels"] if p["title"] == "payment_latency_ms")
    steps = latency["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}, {"color": "red", "value": 2000}]
    assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    overview = json.loads(grafana.to_json(dashboard)["hms-overview.json"])
    waiting = next(p for p in overview["panels"] if p["title"] == "Citizens waiting in queue")
    assert waiting["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"


def test_export_command_writes_grafana_json_and_the_local_spec(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["dashboards", "export", "--alerts", str(ALERT_RULES), "--grafana",
                                 str(tmp_path / "grafana"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grafana" / "hms-overview.json").is_file()
    printed = result.stdout
    assert json.loads(printed) == page_spec(load(ALERT_RULES))
    yaml_result = runner.invoke(cli, ["dashboards", "export", "--alerts", str(ALERT_RULES), "--format", "yaml"])
    assert yaml_result.exit_code == 0 and "layer_series:" in yaml_result.stdout
    missing = runner.invoke(cli, ["dashboards", "export"])
    assert missing.exit_code == 2 and "--grafana DIR" in missing.output


def test_a_below_threshold_colours_the_values_below_it_in_grafana(tmp_path: Path) -> None:
    # Grafana colours from each step up: `< 2` exported as a step at 2 coloured a healthy printer (2 and
    # more) orange and a broken one (0) green.
    rules = {"printer_low.yml": "last_over_10s < 2\\nseverity: warning",
             "printer_dead.yml": "last_over_10s < 1\\nseverity: critical",
             "printer_odd.yml": "last_over_10s > 5\\nseverity: warning"}
    for name, when in rules.items():
        (tmp_path / name).write_text(f'metric: license_printer_health\nwhen: {when}\naction: slack:#svc\n'
                                     'message: "printer {{value}}"\n'.replace("\\n", "\n"))
    exported = json.loads(grafana.to_json(load(tmp_path))["hms-overview.json"])
    printer = next(p for p in exported["panels"] if p["title"] == "License printer health")
    steps = printer["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": None}, {"color": "orange", "value": 1},
                     {"color": "green", "value": 2}, {"color": "orange", "value": 5}], steps
