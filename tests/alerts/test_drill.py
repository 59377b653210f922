"""`hms-ops alerts drill`: every shipped alert's path passes; a broken route fails naming alert and channel."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from hms_otel.alerts.cli import alerts
from hms_otel.alerts.compiler import compile_dir
from hms_otel.alerts.drill import drill

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"


def test_drill_passes_for_the_shipped_alerts() -> None:
    result = CliRunner().invoke(alerts, ["drill", str(ALERT_RULES)])
    assert result.exit_code == 0, result.output
    assert "all pass" in result.output
    assert "[HMS-OPS] ALERT – payment_latency_ms 4 s (>2 s)" in result.output
    rows = drill(compile_dir(ALERT_RULES), alert="payment_latency_high")
    assert [(row.channel, row.test, row.route, row.delivery) for row in rows] == [
        ("sms:+15551234", "pass", "pass", "pass")]
    assert rows[0].text == "[HMS-OPS] ALERT – payment_latency_ms 4 s (>2 s)\nPayment latency 4 s (>2 s)"


def test_a_broken_route_fails_naming_the_alert_and_the_channel(tmp_path: Path) -> None:
    config = yaml.safe_load(compile_dir(ALERT_RULES).alertmanager_yaml)
    # The deployed config lost the tutorial alert's SMS route (a hand edit, an old file ...).
    config["route"]["routes"] = [route for route in config["route"]["routes"]
                                 if route["matchers"] != ['hms_alert="payment_latency_high"']]
    deployed = tmp_path / "alertmanager.yml"
    deployed.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(alerts, ["drill", str(ALERT_RULES), "--alertmanager", str(deployed)])
    assert result.exit_code == 1
    assert "FAIL payment_latency_high -> sms:+15551234: route fail: routed to hms-unrouted" in result.output
    assert "FAIL payments_page" not in result.output  # the other alerts still pass
    one = CliRunner().invoke(alerts, ["drill", str(ALERT_RULES), "--alert", "nope"])
    assert one.exit_code == 1 and "no alert named 'nope'" in one.output
