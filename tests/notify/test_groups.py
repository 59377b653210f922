"""Alertmanager sends a group (one alert rule over many instances) in one request: a person gets one message
for it that says how many alerts it stands for, not one text per alert; a webhook still gets every alert."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

from hms_otel.notify.config import SmsSettings

from ..support import eventually
from .standins import TWILIO_CREATED, Answer, StandIn
from .test_permanent_failures import running, send


def group(size: int, status: str = "firing") -> bytes:
    alerts = [{"status": status, "fingerprint": f"f{index}", "startsAt": "2026-11-26T19:00:00Z",
               "labels": {"alertname": "payment_latency_high", "instance": f"pay{index}"},
               "annotations": {"hms_metric": "payment_latency_ms", "hms_op": ">", "hms_threshold": "2000",
                               "hms_unit": "ms", "hms_value": "2934.5"}} for index in range(size)]
    return json.dumps({"version": "4", "status": status, "alerts": alerts}).encode()


def texts(received: list) -> list[str]:  # type: ignore[type-arg]
    return [parse_qs(request.body.decode())["Body"][0] for request in received]


def test_a_group_of_a_thousand_is_one_sms_and_its_resolution_another(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(TWILIO_CREATED) as twilio:
        with running(tmp_path, said, sms=SmsSettings("AC1", "secret", sender="+15550100",
                                                     base_url=twilio.url)) as notifier:
            send(notifier, "sms", "+15551234", group(1000))
            eventually(notifier.dispatcher.idle, 20, "the group's message")
            send(notifier, "sms", "+15551234", group(1000))  # Alertmanager's re-send: collapsed
            send(notifier, "sms", "+15551234", group(1000, "resolved"))
            eventually(lambda: len(twilio.snapshot()) >= 2, 20, "the resolution")
            eventually(notifier.dispatcher.idle, 20, "the dispatcher to finish")
            entries = notifier.journal.entries()
    fired, resolved = texts(twilio.snapshot())
    assert fired == "[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s), +999 more"
    assert resolved.startswith("[HMS-OPS] RESOLVED – payment_latency_ms no longer >2 s, after ")
    assert resolved.endswith(", +999 more")
    assert len(entries) == 2000 and all(entry.state == "delivered" for entry in entries), said


def test_a_few_alerts_are_a_message_each(tmp_path: Path) -> None:
    with StandIn(TWILIO_CREATED) as twilio:
        with running(tmp_path, [], sms=SmsSettings("AC1", "secret", sender="+15550100",
                                                   base_url=twilio.url)) as notifier:
            send(notifier, "sms", "+15551234", group(3))
            eventually(lambda: len(twilio.snapshot()) == 3, 20, "three texts")
            eventually(notifier.dispatcher.idle, 20, "the dispatcher to finish")
    assert all(text.endswith("(>2 s)") for text in texts(twilio.snapshot()))


def test_a_webhook_gets_every_alert_of_a_group(tmp_path: Path) -> None:
    with StandIn(Answer(200)) as receiver:
        with running(tmp_path, [], webhook_allowed_hosts=("127.0.0.1",)) as notifier:
            send(notifier, "webhook", f"{receiver.url}/hook", group(10))
            eventually(lambda: len(receiver.snapshot()) == 10, 20, "ten posts")
