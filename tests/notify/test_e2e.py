"""The phone end with the real collector, Prometheus, Alertmanager v0.31.1, VictoriaLogs and the notifier.

1. The tutorial's alert file, a service whose payments take 3 s, no provider configured: the notifier
   prints the SMS as the phone would show it, with the probable source taken from the service's own
   error logs in VictoriaLogs, and appends it to the outbox.
2. One alert with sms, teams and slack actions reaches local servers speaking Twilio's Messages API,
   a Teams Workflows webhook and a Slack incoming webhook; the exact requests are checked.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from hms_otel.alerts import rebuild
from hms_otel.stack import LocalStack, MissingBinary, ProcessError
from hms_otel.stack.processes import wait_until

from ..conftest import app_env
from ..support import eventually, instrumented_argv
from .standins import SLACK_OK, TEAMS_ACCEPTED, TWILIO_CREATED, StandIn

pytestmark = pytest.mark.e2e

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"


def _stack(workdir: Path, **options: object) -> LocalStack:
    stack = LocalStack(workdir, **options)  # type: ignore[arg-type]
    try:
        return stack.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)


def _load(stack: LocalStack, directory: Path) -> None:
    errors: list[str] = []
    report = rebuild(directory, stack.rules_dir / "hms-alerts.yml", stack.alertmanager_config_path,
                     settings=stack.alert_settings(scrape_interval_ms=1000, export_interval_ms=1000),
                     reload_prometheus=stack.prometheus.reload_outcome,
                     reload_alertmanager=stack.alertmanager.reload_outcome,
                     echo=lambda text, is_error: errors.append(text) if is_error and "warning" not in text else None)
    assert report.ok, errors


def test_tutorial_alert_prints_the_sms_with_its_probable_source(tmp_path: Path) -> None:
    stack = _stack(tmp_path / "stack")
    try:
        _load(stack, ALERT_RULES)
        assert stack.notifier is not None
        app = subprocess.Popen(instrumented_argv("notify_slow_payments", ["3"]),
                               env=app_env(stack, "licence-payments"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            log = stack.notifier.log_path
            pattern = re.compile(r"^\[HMS-OPS\] ALERT – payment_latency_ms ([0-9.]+) s \(>2 s\)$", re.M)
            eventually(lambda: pattern.search(log.read_text()), 180, "the SMS for payment_latency_ms on the console")
            # The rest of the message may still be on its way into the log file.
            wait_until(lambda: len(_after(pattern, log.read_text())) >= 3, 10)
            text = log.read_text()
        finally:
            app.kill()
            app.wait(timeout=30)
        match = pattern.search(text)
        assert match and float(match[1]) > 2
        lines = _after(pattern, text)
        assert len(lines) >= 3, text
        # As the phone shows it: headline, the alert's own message, the cause from the service's error logs.
        assert re.fullmatch(r"Payment latency [0-9.]+ s( \(>2 s\)|…)", lines[1]), lines[:4]
        assert re.fullmatch(r"Probable source: Database connection pool exhausted \(waited [0-9.]+ s for a "
                            r"connection\)", lines[2]), lines[:4]
        assert "📱 SMS to +15551234 (not sent: no provider configured)" in text
        outbox = stack.notifier.outbox_path.read_text()
        assert "sms:+15551234" in outbox and "\n".join(lines[:3]) in outbox
        print(f"\nconsole SMS:\n{chr(10).join(lines[:3])}")
    finally:
        stack.stop()


def _after(pattern: re.Pattern[str], text: str) -> list[str]:
    match = pattern.search(text)
    return text[match.start():].splitlines() if match else []


HEARTBEAT = """\
name: heartbeat_lost
metric: hms_e2e_heartbeat_total
type: counter
absent_for: 1s
message: "Heartbeat lost: the {{value}} clearing worker is silent"
action:
  - sms:+15551234
  - teams:ops
  - slack:#oncall
"""
EXPECTED_TEXT = "[HMS-OPS] ALERT – heartbeat_lost\nHeartbeat lost: the 1 clearing worker is silent"


def test_providers_receive_exactly_their_api_requests(tmp_path: Path) -> None:
    rules = tmp_path / "alert_rules"
    rules.mkdir()
    (rules / "heartbeat.yml").write_text(HEARTBEAT)
    with StandIn(TWILIO_CREATED) as twilio, StandIn(TEAMS_ACCEPTED) as teams, StandIn(SLACK_OK) as slack:
        env = {"HMS_TWILIO_ACCOUNT_SID": "AC0123456789abcdef", "HMS_TWILIO_AUTH_TOKEN": "s3cret",
               "HMS_TWILIO_FROM": "+15550100", "HMS_TWILIO_BASE_URL": twilio.url,
               "HMS_TEAMS_OPS_URL": f"{teams.url}/workflows/abc/triggers/manual/paths/invoke?sig=x",
               "HMS_SLACK_ONCALL_WEBHOOK_URL": f"{slack.url}/services/T000/B000/XXXX"}
        stack = _stack(tmp_path / "stack", notifier_env=env)
        try:
            _load(stack, rules)
            for stand_in in (twilio, teams, slack):
                eventually(stand_in.snapshot, 60, f"a request at {stand_in.url}")
        finally:
            stack.stop()
        [sms] = twilio.snapshot()
        [card] = teams.snapshot()
        [message] = slack.snapshot()

    assert sms.path == "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    assert sms.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sms.headers["authorization"] == "Basic " + base64.b64encode(b"AC0123456789abcdef:s3cret").decode()
    assert parse_qs(sms.body.decode(), strict_parsing=True) == {
        "To": ["+15551234"], "From": ["+15550100"], "Body": [EXPECTED_TEXT]}

    assert card.path == "/workflows/abc/triggers/manual/paths/invoke?sig=x"
    assert card.headers["content-type"] == "application/json"
    body = json.loads(card.body)
    assert body == {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.4", "body": [
                        {"type": "TextBlock", "text": "[HMS-OPS] ALERT – heartbeat_lost", "weight": "Bolder",
                         "size": "Medium", "wrap": True, "color": "Attention"},
                        {"type": "TextBlock", "text": "Heartbeat lost: the 1 clearing worker is silent",
                         "wrap": True},
                        {"type": "FactSet", "facts": [{"title": "Layer", "value": "custom"},
                                                      {"title": "Severity", "value": "critical"},
                                                      {"title": "Alert", "value": "heartbeat_lost"}]}]}}]}

    assert message.path == "/services/T000/B000/XXXX"
    assert json.loads(message.body) == {
        "text": EXPECTED_TEXT,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": (
            "*[HMS-OPS] ALERT – heartbeat_lost*\nHeartbeat lost: the 1 clearing worker is silent")}}]}


def test_only_the_stack_may_page(tmp_path: Path) -> None:
    """Alertmanager's API needs the stack's credentials; Prometheus has no lifecycle API but answers queries."""
    from hms_otel import http

    stack = _stack(tmp_path / "stack")
    try:
        forged = json.dumps([{"labels": {"alertname": "forged", "hms_alert": "payment_latency_high"}}]).encode()
        for path, body in (("/api/v2/alerts", forged), ("/api/v2/silences", b"{}")):
            with pytest.raises(http.HTTPError) as refused:
                http.request("POST", stack.alertmanager_url + path, data=body,
                             headers={"Content-Type": "application/json"})
            assert refused.value.status == 401
        assert stack.alertmanager.alerts() == []  # with the credentials the API answers, and nothing got in
        with pytest.raises(http.HTTPError) as refused:
            http.request("POST", stack.prometheus_url + "/-/quit")
        assert refused.value.status == 403
        assert http.get_json(stack.prometheus_url + "/api/v1/query", {"query": "1"})["status"] == "success"
        stack.reload_prometheus()  # by SIGHUP, confirmed by prometheus_config_last_reload_success_timestamp_seconds
    finally:
        stack.stop()


def test_the_printed_silences_url_opens_the_alertmanager_ui(tmp_path: Path) -> None:
    """Alertmanager v0.31.1 serves its UI (Debian's 0.25 shows a placeholder); the URL `up` prints logs in."""
    import shutil

    from hms_otel.stack.processes import free_port
    from hms_otel.stack.services import Alertmanager, BasicAuth

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for the UI test"
    alertmanager = Alertmanager(tmp_path / "am", free_port(), auth=BasicAuth.generate())
    try:
        alertmanager.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        url = alertmanager.ui_url("silences")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--window-size=1200,800"]
        dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        shot = tmp_path / "alertmanager-silences.png"
        subprocess.run([chromium, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    finally:
        alertmanager.stop()
    assert "New Silence" in dom.stdout and "Silences" in dom.stdout, dom.stdout[:500]
    assert shot.is_file() and shot.stat().st_size > 5000
    print(f"\nscreenshot: {shot}")
