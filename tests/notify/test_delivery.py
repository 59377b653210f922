"""Never lose an alert: journal first, retries with backoff honouring Retry-After, duplicates
collapsed, resume after SIGKILL; and only callers with the token get in."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from hms_otel import http
from hms_otel.notify.config import NotifierConfig, SmsSettings
from hms_otel.notify.delivery import Backoff
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import ManagedProcess, free_port

from ..support import eventually
from .standins import TWILIO_CREATED, Answer, StandIn

TOKEN = "t0ken-for-tests"


def webhook(status: str = "firing", fingerprint: str = "abc123") -> bytes:
    alert = {"status": status, "fingerprint": fingerprint, "startsAt": "2026-11-26T19:00:00.123456789Z",
             "endsAt": "0001-01-01T00:00:00Z",
             "labels": {"alertname": "payment_latency_high", "job": "payments", "severity": "critical",
                        "hms_alert": "payment_latency_high"},
             "annotations": {"hms_metric": "payment_latency_ms", "hms_op": ">", "hms_threshold": "2000",
                             "hms_unit": "ms", "hms_value": "2934.5", "hms_message": "Payment latency {{value}} ms"}}
    return json.dumps({"version": "4", "status": status, "receiver": "sms:+15551234", "alerts": [alert]}).encode()


def post(url: str, body: bytes, token: str | None = TOKEN) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        http.request("POST", f"{url}/v1/alerts?channel=sms&target=%2B15551234", data=body, headers=headers)
    except http.HTTPError as error:
        return error.status or 0
    return 200


def config(tmp_path: Path, twilio_url: str, port: int = 0) -> NotifierConfig:
    return NotifierConfig(port=port or free_port(), token=TOKEN, state_dir=tmp_path / "state",
                          sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio_url))


def test_a_failing_provider_gets_the_message_exactly_once(tmp_path: Path) -> None:
    said: list[str] = []
    script = [Answer(503, b"busy"), Answer(429, b"slow down", (("Retry-After", "1"),))]
    with StandIn(TWILIO_CREATED, script) as twilio:
        notifier = Notifier(config(tmp_path, twilio.url), say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.5))
        notifier.serve()
        url = f"http://127.0.0.1:{notifier.config.port}"
        try:
            assert post(url, webhook()) == 200
            assert post(url, webhook()) == 200  # Alertmanager re-sending the same alert
            eventually(twilio.snapshot, 30, "the third attempt to be accepted")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
            time.sleep(1)  # room for a wrong extra delivery
        finally:
            notifier.close()
        assert len(twilio.received) == 3 and len(twilio.snapshot()) == 1
        assert twilio.received[2].at - twilio.received[1].at >= 1.0  # Retry-After: 1 was honoured
    failing = [line for line in said if "failing" in line]
    assert len(failing) == 1, said  # once per failure episode, with the fix
    assert "HTTP 503" in failing[0] and "Retrying" in failing[0]
    assert any("works again" in line for line in said)


def test_a_request_without_the_token_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    with StandIn(TWILIO_CREATED) as twilio:
        notifier = Notifier(config(tmp_path, twilio.url), say=lambda _text: None)
        notifier.serve()
        url = f"http://127.0.0.1:{notifier.config.port}"
        try:
            assert post(url, webhook(), token=None) == 401
            assert post(url, webhook(), token="wrong") == 401
            assert post(url, b"not json") == 400
        finally:
            notifier.close()
        assert list((tmp_path / "state" / "journal").glob("*.json")) == []
        assert twilio.received == []


def test_killed_between_journaling_and_delivery_it_delivers_after_restart(tmp_path: Path) -> None:
    provider_port = free_port()  # nothing listens yet: every delivery attempt fails
    port = free_port()
    settings = tmp_path / "notifier.yml"
    settings.write_text(f"listen: 127.0.0.1:{port}\ntoken: {TOKEN}\nstate_dir: {tmp_path / 'state'}\n"
                        f"sms: {{account_sid: AC1, auth_token: secret, from: '+15550100', "
                        f"base_url: 'http://127.0.0.1:{provider_port}'}}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("HMS_")}

    def notifier_process() -> ManagedProcess:
        return ManagedProcess("notifier", [sys.executable, "-m", "hms_otel.cli", "notifier", f"--config={settings}"],
                              log_path=tmp_path / "notifier.log", ready_url=f"http://127.0.0.1:{port}/-/ready",
                              env=env)

    first = notifier_process().start()
    try:
        assert post(f"http://127.0.0.1:{port}", webhook()) == 200
        journal = tmp_path / "state" / "journal"
        eventually(lambda: any("cannot reach" in json.loads(p.read_text())["last_error"]
                               for p in journal.glob("*.json")), 30, "a failed delivery attempt")
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        first.stop()
    finally:
        first.stop()
    with StandIn(TWILIO_CREATED, port=provider_port) as twilio:
        with notifier_process():
            eventually(twilio.snapshot, 30, "the journaled SMS after the restart")
            time.sleep(1)
        assert len(twilio.snapshot()) == 1
        form = parse_qs(twilio.snapshot()[0].body.decode())
        assert form["Body"] == ["[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)\nPayment latency 2.9 s"]
    assert "resuming 1 undelivered message" in (tmp_path / "notifier.log").read_text()


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0", "0x0a.1", "1.2.3.4.5",
                                  "8.8.8.8", "134744072", "99999999999"])
def test_alerts_check_reads_a_numeric_host_as_the_notifier_does(host: str) -> None:
    """`alerts check` passed http://127.1/ (and 2130706433, 0x7f000001 ...), which the notifier then refused to call."""
    from hms_otel.notify.addresses import webhook_problem

    assert webhook_problem(f"http://{host}/x", []) == webhook_problem(f"http://{host}/x", [], resolve=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9093/api/v2/silences", "http://localhost/x",
                                 "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/hook",
                                 "http://[::1]:8080/", "http://127.1/", "http://2130706433/", "http://0x7f000001/",
                                 "http://0177.0.0.1/", "http://0/", "http://0x0a.1/hook"])
def test_webhook_actions_may_not_reach_this_machine_or_private_networks(tmp_path: Path, url: str) -> None:
    from hms_otel.alerts.compiler import AlertsInvalid, compile_dir
    from hms_otel.alerts.settings import Settings

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "hook.yml").write_text(f"metric: job_fail_total\nwhen: increase_over_5m > 3\naction: webhook:{url}\n")
    with pytest.raises(AlertsInvalid) as refused:
        compile_dir(rules, Settings())
    [problem] = refused.value.problems
    assert str(problem).startswith(f"{rules / 'hook.yml'}:3:9: webhook ")
    assert "HMS_WEBHOOK_ALLOWED_HOSTS" in problem.message
    host = url.split("//")[1].split("/")[0].rsplit(":", 1)[0].strip("[]") if "[" in url else \
        url.split("//")[1].split("/")[0].split(":")[0]
    assert compile_dir(rules, Settings(webhook_allowed_hosts=(host,))).alertmanager
