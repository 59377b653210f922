"""End to end with the real collector, Prometheus 2.42 and Alertmanager.

1. An app under opentelemetry-instrument slows its payments past 2 s; the
   shipped tutorial alert fires in Prometheus, Alertmanager routes it to the
   notifier's URL (a recorder here) with the value and the notifier's data. The delivery
   latency is printed (never asserted: tests do not assert on wall-clock time).
2. Hot reload: `watch` turns an edited file into new active rules; a broken
   file is reported with its location and the previous rules keep firing.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import TypeVar

import pytest

from hms_otel.alerts import Settings, rebuild, watch
from hms_otel.alerts.watcher import reload
from hms_otel.http import get_json
from hms_otel.stack import LocalStack

from ..conftest import app_env
from ..support import eventually, instrumented_argv
from .recorder import Recorder

pytestmark = pytest.mark.e2e

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"
T = TypeVar("T")
#: Test intervals (also printed with the measurement).
INTERVALS = {"sdk_export": "1s", "collector_batch": "1s", "prometheus_scrape_and_eval": "1s",
             "alertmanager_group_wait": "0s"}


def _settings(gateway: str, token_file: Path) -> Settings:
    """Alertmanager posts to ``gateway`` where the notifier would be (this test checks the routing)."""
    token_file.write_text("e2e-token")
    return Settings(notifier_url=gateway, notifier_token_file=str(token_file), group_wait="0s",
                    group_interval="1s", scrape_interval_ms=1000, export_interval_ms=1000)


def _rules(stack: LocalStack) -> dict[str, dict]:
    """Active Prometheus rules by name."""
    answer = get_json(f"{stack.prometheus_url}/api/v1/rules")
    return {rule["name"]: rule for group in answer["data"]["groups"] for rule in group["rules"]}


def test_slow_payments_reach_the_sms_gateway(isolated_stack: LocalStack, tmp_path: Path) -> None:
    stack = isolated_stack
    messages: list[str] = []
    with Recorder() as gateway:
        report = rebuild(ALERT_RULES, stack.rules_dir / "hms-alerts.yml", stack.alertmanager_config_path,
                         settings=_settings(gateway.url, tmp_path / "token"),
                         reload_prometheus=stack.prometheus.reload_outcome,
                         reload_alertmanager=stack.alertmanager.reload_outcome,
                         echo=lambda text, _err: messages.append(text))
        assert report.ok, messages
        assert "payment_latency_high" in _rules(stack)

        app = subprocess.Popen(instrumented_argv("alerts_slow_payments", ["3"]),
                               env=app_env(stack, "election-day-payments"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = eventually(lambda: app.stdout.readline() if app.poll() is None else "exited", 60, "SLOW_START")
            assert line.startswith("SLOW_START"), (line, app.stderr.read() if app.poll() is not None else "")
            slow_start = float(line.split()[1])

            def sms_for(alertname: str):
                def probe():
                    for request in gateway.snapshot():
                        body = json.loads(request.body)
                        if any(a["labels"]["alertname"] == alertname for a in body["alerts"]):
                            return request, body
                    return None
                return probe

            request, body = eventually(sms_for("payment_latency_high"), 120, "the SMS for payment_latency_high")
            # The payments SLO (99 % under 2 s) burns its budget far faster than 14.4x: it pages too.
            slo_request, slo_body = eventually(sms_for("payments_page"), 120, "the SMS for the payments SLO page")
        finally:
            app.kill()
            app.wait(timeout=30)

        assert request.path == "/v1/alerts?channel=sms&target=%2B15551234"
        alert = next(a for a in body["alerts"] if a["labels"]["alertname"] == "payment_latency_high")
        assert alert["annotations"]["hms_metric"] == "payment_latency_ms" and alert["annotations"]["hms_unit"] == "ms"
        assert float(alert["annotations"]["hms_value"]) > 2000
        match = re.fullmatch(r"Payment latency ([0-9.]+)(k?) ms \(>2 s\)", alert["annotations"]["message"])
        assert match, alert["annotations"]["message"]
        value_ms = float(match[1]) * (1000 if match[2] else 1)
        assert value_ms > 2000
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["layer"] == "quick start"
        assert alert["labels"]["job"] == "election-day-payments"

        firing = stack.query('ALERTS{alertname="payment_latency_high",alertstate="firing"}')
        assert firing and firing[0]["metric"]["hms_alert"] == "payment_latency_high"
        # The SLO's good-event count reads the 2000 ms bucket: its le label must be spelled "2000".
        assert stack.query('payment_latency_ms_bucket{job="election-day-payments",le="2000"}')

        slo_alert = next(a for a in slo_body["alerts"] if a["labels"]["alertname"] == "payments_page")
        assert slo_request.path == "/v1/alerts?channel=sms&target=%2B15551234"
        assert slo_alert["labels"]["hms_slo"] == "payments"
        assert slo_alert["annotations"]["message"].startswith("payments SLO: error budget burning ")

        latency = request.at - slow_start
        print(f"\nalert delivery: first slow call -> SMS request {latency:.1f} s "
              f"(payment step 3 s, rule avg_over_30s > 2000 without `for`; intervals {INTERVALS}); "
              f"message: {alert['annotations']['message']!r}; SLO page after {slo_request.at - slow_start:.1f} s: "
              f"{slo_alert['annotations']['message']!r}")


def test_watch_hot_reloads_and_keeps_the_last_good_rules(isolated_stack: LocalStack, tmp_path: Path) -> None:
    stack = isolated_stack
    source = tmp_path / "alert_rules"
    source.mkdir()
    alert_file = source / "heartbeat.yml"

    def heartbeat(name: str, extra: str = "") -> str:
        # No app sends this counter, so the no-data alert fires at once: no waiting for data.
        return (f"name: {name}\nmetric: hms_e2e_heartbeat_total\ntype: counter\nabsent_for: 1s\n"
                f"action: sms:+15550001\n{extra}")

    alert_file.write_text(heartbeat("heartbeat_a"))
    messages: list[tuple[str, bool]] = []
    stop = threading.Event()
    with Recorder() as gateway:
        watcher = threading.Thread(target=watch, kwargs=dict(
            directory=source, rules_path=stack.rules_dir / "hms-alerts.yml",
            alertmanager_path=stack.alertmanager_config_path, settings=_settings(gateway.url, tmp_path / "token"),
            reload_prometheus=stack.prometheus.reload_outcome, reload_alertmanager=stack.alertmanager.reload_outcome,
            stop_event=stop, echo=lambda text, error: messages.append((text, error))), daemon=True)
        watcher.start()
        try:
            eventually(lambda: _rules(stack).get("heartbeat_a", {}).get("state") == "firing", 90, "heartbeat_a firing")

            edited = time.monotonic()
            alert_file.write_text(heartbeat("heartbeat_b"))
            eventually(lambda: "heartbeat_b" in _rules(stack) and "heartbeat_a" not in _rules(stack), 90,
                  "the edited rule to replace the old one")
            print(f"\nhot reload: edit -> new rule active in Prometheus {time.monotonic() - edited:.1f} s")
            eventually(lambda: _rules(stack)["heartbeat_b"].get("state") == "firing", 90, "heartbeat_b firing")

            before = (stack.rules_dir / "hms-alerts.yml").read_text()
            count = len(messages)
            alert_file.write_text(heartbeat("heartbeat_c", "when: avg_over_5x > 1\n"))
            error = eventually(lambda: next((text for text, is_error in messages[count:]
                                        if is_error and "heartbeat.yml:" in text), None), 30, "the error report")
            assert re.search(r"heartbeat\.yml:\d+:\d+: ", error), error
            time.sleep(3)  # give a wrong reload the chance to happen; then nothing may have changed
            assert (stack.rules_dir / "hms-alerts.yml").read_text() == before
            rules = _rules(stack)
            assert "heartbeat_c" not in rules and rules["heartbeat_b"]["state"] == "firing"
            firing = stack.query('ALERTS{alertname="heartbeat_b",alertstate="firing"}')
            assert firing and firing[0]["metric"]["layer"] == "custom"
            # Alertmanager runs the matching routing (delivery itself is proved by the SMS test above).
            status = get_json(f"{stack.alertmanager_url}/api/v2/status", headers=stack.alertmanager.headers())
            assert 'hms_alert="heartbeat_b"' in status["config"]["original"]
        finally:
            stop.set()
            watcher.join(timeout=30)
    assert not watcher.is_alive()


def test_watch_reloads_a_password_protected_alertmanager_from_the_url_up_prints(isolated_stack: LocalStack) -> None:
    """`hms-ops alerts watch --alertmanager-url http://user:password@host:port` (the form `up` prints)."""
    stack = isolated_stack
    with_login = stack.alertmanager.ui_url("alerts").split("/#")[0]
    assert stack.alertmanager_auth.password in with_login
    assert reload(with_login) == "ok"
    refused = reload(stack.alertmanager_url)
    assert "HTTP 401" in refused, refused
    wrong = reload(stack.alertmanager_url.replace("http://", "http://hms-ops:not-the-password@"))
    assert "HTTP 401" in wrong and "not-the-password" not in wrong, wrong


def test_prometheus_keeps_old_rules_when_a_broken_file_is_reloaded(isolated_stack: LocalStack) -> None:
    """The fact `watch` relies on, checked on this Prometheus: a bad reload (SIGHUP) is reported from
    Prometheus' own reload metrics, and nothing changes."""
    stack = isolated_stack
    rules = stack.rules_dir / "hms-alerts.yml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: kept\n    expr: vector(1)\n")
    assert stack.prometheus.reload_outcome() == "ok"
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: broken\n    expr: rate(x[5x])\n")
    outcome = stack.prometheus.reload_outcome()
    assert "Prometheus rejected the reload and keeps its previous configuration" in outcome, outcome
    assert stack.prometheus.reload_outcome() != "ok"  # still broken: a second reload says so again
    rules.write_text("groups:\n- name: g\n  rules:\n  - alert: kept\n    expr: vector(1)\n")
    assert stack.prometheus.reload_outcome() == "ok"
    assert "kept" in _rules(stack) and "broken" not in _rules(stack)
