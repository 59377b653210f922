"""An SLO's page silences its ticket, in a real Alertmanager (v0.31.1 from the cache) running the generated config."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hms_otel import http
from hms_otel.alerts.compiler import compile_files
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.spec import load_bytes
from hms_otel.stack import MissingBinary, ProcessError
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import Alertmanager

_SLO = ("slo: payments\nobjective: 99%\nlatency: {metric: payment_latency_ms, below: 2000}\n"
        "action: sms:+15551234\nticket_action: slack:#payments\n")


def _alert(alert_id: str, severity: str) -> dict[str, object]:
    return {"labels": {"alertname": alert_id, "hms_alert": alert_id, "hms_slo": "payments", "severity": severity,
                       "layer": "quick start"},
            "annotations": {"message": "burning"}}


def _states(alertmanager: Alertmanager) -> dict[str, list[str]]:
    return {alert["labels"]["alertname"]: alert["status"]["inhibitedBy"] for alert in alertmanager.alerts()}


def test_the_page_of_an_slo_inhibits_its_ticket(tmp_path: Path) -> None:
    parsed, problems = load_bytes(_SLO, "payments_slo.yml")
    assert parsed is not None and not problems
    config = tmp_path / "alertmanager.yml"
    config.write_text(compile_files([parsed], Settings()).alertmanager_yaml)
    alertmanager = Alertmanager(tmp_path / "am", free_port(), config=config)
    try:
        alertmanager.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        post = [_alert("payments_ticket", "warning"), _alert("payments_page", "critical")]
        http.request("POST", alertmanager.url + "/api/v2/alerts", data=json.dumps(post).encode(),
                     headers={"Content-Type": "application/json"})
        deadline = time.monotonic() + 20
        states = _states(alertmanager)
        while not (len(states) == 2 and states["payments_ticket"]) and time.monotonic() < deadline:
            time.sleep(0.2)
            states = _states(alertmanager)
        assert states["payments_page"] == []
        assert len(states["payments_ticket"]) == 1, states  # inhibited by the page's fingerprint
        # Without the page, the ticket is told as before.
        alone = [_alert("payments_ticket", "warning")]
        alone[0]["labels"]["hms_slo"] = "refunds"  # type: ignore[index]
        alone[0]["labels"]["alertname"] = "refunds_ticket"  # type: ignore[index]
        http.request("POST", alertmanager.url + "/api/v2/alerts", data=json.dumps(alone).encode(),
                     headers={"Content-Type": "application/json"})
        deadline = time.monotonic() + 20
        while "refunds_ticket" not in _states(alertmanager) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _states(alertmanager)["refunds_ticket"] == []
    finally:
        alertmanager.stop()
