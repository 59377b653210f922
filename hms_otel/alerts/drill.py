"""``hms-ops alerts drill``: prove every alert's path without paging anyone.

For each alert and each of its channels:

1. its generated promtool test passes (the rule fires on violating data, with its message);
2. Alertmanager routes it to that channel (``amtool config routes test`` on the compiled
   configuration, or on a deployed one given with ``--alertmanager``);
3. the exact text the receiver gets, rendered by the notifier's own code from a firing example;
4. delivery through the real provider code (Twilio Messages API, Teams Workflows card, Slack
   incoming webhook, JSON webhook) to a local capture server that answers as the provider does.

E-mail and PagerDuty are delivered by Alertmanager itself: their route is checked, not their delivery.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from hms_otel.alerts import tools
from hms_otel.alerts.alertmanager import NOTIFIER_SCHEMES
from hms_otel.alerts.compiler import CompileResult, dump_yaml
from hms_otel.alerts.model import Action
from hms_otel.alerts.promtool_tests import alert_tests, firing_value, plan, slo_firing_value
from hms_otel.alerts.rules import ROUTING_LABEL, notifier_annotations, slo_id, slo_message, slo_notifier_annotations
from hms_otel.alerts.slo import can_fire
from hms_otel.alerts.syntax import render_message
from hms_otel.notify import alert as notify
from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.config import NotifierConfig, SmsSettings
from hms_otel.notify.message import compose
from hms_otel.notify.providers import DeliveryFailed, JsonWebhook
from hms_otel.notify.server import live_provider

#: The service name put on example alerts (the log store is not asked for a probable source).
EXAMPLE_SERVICE = "drill-example-service"


@dataclass
class DrillRow:
    alert: str
    channel: str
    test: str = "?"
    route: str = "?"
    delivery: str = "?"
    text: str = ""

    @property
    def ok(self) -> bool:
        return all(part in ("pass", "n/a") for part in (self.test, self.route, self.delivery))


@dataclass
class _Case:
    alert_id: str
    severity: str
    layer: str
    selector: dict[str, str]
    actions: tuple[Action, ...]
    annotations: dict[str, str]
    message: str
    value: float
    test_file: str
    tests: dict[str, object] | None = field(default=None)
    #: Why this alert can never fire ("" if it can): its test then fails, though the rule stays silent as expected.
    never: str = ""


def _cases(result: CompileResult) -> list[_Case]:
    cases = []
    for source in result.files:
        test_plan = plan(source)
        for alert in source.alerts:
            tests, _reason = alert_tests(alert)
            cases.append(_Case(alert.id, alert.severity, alert.layer, dict(alert.selector), alert.actions,
                               notifier_annotations(alert), alert.message, firing_value(alert),
                               f"test_{alert.id}.yml", tests))
        for slo in source.slos:
            tests = test_plan.files.get(f"test_{slo.id}_slo.yml")
            for kind, severity, actions in (("page", "critical", slo.actions),
                                            ("ticket", "warning", slo.ticket_actions)):
                never = "" if can_fire(slo, kind) else (
                    f"can never fire: the burn rate is at most {slo_firing_value(slo):.6g} at objective "
                    f"{slo.objective * 100:g} % (see hms-ops alerts check)")
                cases.append(_Case(slo_id(slo, kind), severity, slo.layer, dict(slo.selector), actions,
                                   slo_notifier_annotations(slo), slo_message(slo), slo_firing_value(slo),
                                   f"test_{slo.id}_slo.yml", tests, never))
    return cases


def example_event(case: _Case) -> AlertEvent:
    """The alert as Alertmanager would deliver it, firing with the value the generated test uses."""
    annotations = {**case.annotations, notify.MESSAGE: case.message, notify.VALUE: f"{case.value:.6g}",
                   "message": render_message(case.message, case.value)}
    labels = {**case.selector, "alertname": case.alert_id, ROUTING_LABEL: case.alert_id,
              "severity": case.severity, "layer": case.layer, "job": EXAMPLE_SERVICE}
    return AlertEvent("firing", case.alert_id, f"drill-{case.alert_id}", "2026-01-01T00:00:00Z", "",
                      labels, annotations)


class _Capture:
    """One local server answering as every provider does, recording what reached it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.requests.append((self.path, body))
                path = urlsplit(self.path).path
                if path.endswith("/Messages.json"):
                    answer, status = json.dumps({"sid": "SMdrill", "status": "queued"}).encode(), 201
                elif path.startswith("/teams/"):
                    answer, status = b"", 202
                else:
                    answer, status = (b"ok", 200)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def _capture_server() -> Iterator[_Capture]:
    capture = _Capture()
    thread = threading.Thread(target=capture.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        capture.server.shutdown()
        capture.server.server_close()
        thread.join(timeout=5)


def _check_capture(channel: str, path: str, body: bytes, text: str) -> str:
    """"pass" when the captured request is what the provider's API expects with ``text``."""
    if channel == "sms":
        form = parse_qs(body.decode())
        ok = path.endswith("/Messages.json") and form.get("Body") == [text] and "To" in form
    elif channel == "teams":
        card = json.loads(body)
        ok = card.get("type") == "message" and \
            card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    elif channel == "slack":
        ok = bool(json.loads(body).get("text"))
    else:
        ok = json.loads(body).get("text") == text
    return "pass" if ok else "fail: the captured request does not match the provider's API"


def _deliver(action: Action, event: AlertEvent, capture: _Capture) -> tuple[str, str]:
    """(delivery outcome, text) for one notifier channel, sent through the real provider code."""
    message = compose(event, None)
    config = NotifierConfig(token="drill", sms=SmsSettings("ACdrill", "drill", sender="+15550100",
                                                           base_url=capture.url),
                            slack_channels={action.target: f"{capture.url}/slack/{action.target.lstrip('#')}"},
                            teams={action.target.lower(): f"{capture.url}/teams/{action.target}"})
    before = len(capture.requests)
    try:
        if action.scheme == "webhook":
            JsonWebhook().send(f"{capture.url}/webhook", message, event)
        else:
            provider = live_provider(config, action.scheme, action.target)
            assert provider is not None
            provider.send(action.target, message, event)
    except DeliveryFailed as failure:
        return f"fail: {failure.reason}", message.text
    if len(capture.requests) != before + 1:
        return "fail: nothing reached the capture server", message.text
    path, body = capture.requests[-1]
    return _check_capture(action.scheme, path, body, message.text), message.text


def drill(result: CompileResult, *, alert: str | None = None, alertmanager_yaml: str | None = None
          ) -> list[DrillRow]:
    """One row per (alert, channel); ``alert`` limits it to one alert name."""
    cases = [case for case in _cases(result) if alert is None or case.alert_id == alert]
    config_yaml = alertmanager_yaml if alertmanager_yaml is not None else result.alertmanager_yaml
    rules_yaml = result.rules_yaml
    test_outcomes: dict[str, str] = {}
    rows: list[DrillRow] = []
    with _capture_server() as capture:
        for case in cases:
            if case.test_file not in test_outcomes:
                if case.tests is None:
                    test_outcomes[case.test_file] = "n/a"
                else:
                    run = tools.test_rules(rules_yaml, {case.test_file: dump_yaml(case.tests)})[case.test_file]
                    test_outcomes[case.test_file] = "pass" if run.ok else f"fail: {run.output.strip()[-300:]}"
            event = example_event(case)
            try:
                routed = set(tools.route(config_yaml, {k: v for k, v in event.labels.items() if k != "job"}))
                route_error = ""
            except RuntimeError as error:
                routed, route_error = set(), str(error)
            for action in case.actions:
                test = f"fail: {case.never}" if case.never else test_outcomes[case.test_file]
                row = DrillRow(case.alert_id, action.receiver, test=test)
                if action.receiver in routed:
                    row.route = "pass"
                else:
                    row.route = f"fail: {route_error or 'routed to ' + (', '.join(sorted(routed)) or 'nothing')}"
                if action.scheme in NOTIFIER_SCHEMES:
                    row.delivery, row.text = _deliver(action, event, capture)
                else:
                    row.delivery = "n/a"
                    row.text = f"(sent by Alertmanager) {event.annotations['message']}"
                rows.append(row)
    return rows


__all__ = ["DrillRow", "drill", "example_event"]
