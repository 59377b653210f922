"""`hms-ops alerts drill`: every shipped alert's path passes; a broken route fails naming alert and channel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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


def test_a_page_that_can_never_fire_fails_the_drill(tmp_path: Path) -> None:
    # At 50 % the burn rate is at most 2: the page's rule stays silent, as its generated test expects,
    # so the test "passed" and the drill showed a page text that can never be sent.
    (tmp_path / "s50.yml").write_text("slo: s50\nobjective: 50%\nperiod: 30d\nlatency:\n  metric: payment_latency_ms\n"
                                      "  below: 2000\naction: slack:#ops\n")
    rows = drill(compile_dir(tmp_path))
    tests = {row.alert: row.test for row in rows}
    assert tests["s50_page"].startswith("fail: can never fire: the burn rate is at most 2 at objective 50 %")
    assert tests["s50_ticket"] == "pass"
    result = CliRunner().invoke(alerts, ["drill", str(tmp_path), "--alert", "s50_page"])
    assert result.exit_code == 1 and "FAIL s50_page -> slack:#ops: test fail: can never fire" in result.output


def test_check_warns_for_every_channel_without_a_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("HMS_SLACK", "HMS_TWILIO", "HMS_TEAMS"))]:
        monkeypatch.delenv(name)
    (tmp_path / "oncall.yml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\n"
                                         "action: [slack:#oncall, teams:ops, sms:+15551234]\n")
    result = CliRunner().invoke(alerts, ["check", str(tmp_path), "--no-tools"])
    assert result.exit_code == 0, result.output
    assert "oncall.yml:3:10: warning: slack:#oncall has no configured destination" in result.stderr
    assert "HMS_SLACK_ONCALL_WEBHOOK_URL" in result.stderr
    assert "oncall.yml:3:25: warning: teams:ops has no configured destination" in result.stderr
    assert "sms:+15551234 has no configured destination" in result.stderr
    monkeypatch.setenv("HMS_SLACK_ONCALL_WEBHOOK_URL", "https://hooks.slack.example/T/B/X")
    result = CliRunner().invoke(alerts, ["check", str(tmp_path), "--no-tools"])
    assert "slack:#oncall" not in result.stderr and "teams:ops has no configured destination" in result.stderr


@pytest.mark.parametrize(("data", "expected"), [
    (b"\xff\xfe garbage", "am.yml:1:1: UTF-16 text; Alertmanager configs are YAML text in UTF-8"),
    (b"route:\n  receiver: \xc3x\n", "am.yml:2:13: not UTF-8 text (byte 0xc3)"),
])
def test_a_deployed_config_that_is_no_text_is_named(tmp_path: Path, data: bytes, expected: str) -> None:
    """It was "internal error: UnicodeDecodeError", exit 70."""
    (tmp_path / "am.yml").write_bytes(data)
    result = CliRunner().invoke(alerts, ["drill", str(ALERT_RULES), "--alert", "payment_latency_high",
                                         "--alertmanager", str(tmp_path / "am.yml")])
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / expected}" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
