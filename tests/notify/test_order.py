"""One alert's messages reach a destination in the order Alertmanager sent them: its resolution never
before the alert itself, whatever retries, restarts or parallel workers do. A phone whose last text says
ALERT for an incident that is over pages someone for nothing; one whose last says RESOLVED while the alert
text arrives after it reads as a new incident."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

from hms_otel.notify.delivery import Backoff
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually
from .standins import TWILIO_CREATED, Answer, Received, StandIn
from .test_delivery import config, post, webhook


def _bodies(received: list[Received]) -> list[str]:
    return [parse_qs(request.body.decode())["Body"][0].split("\n")[0] for request in received]


def test_a_resolution_waits_for_its_alert_held_by_retry_after(tmp_path: Path) -> None:
    """Twilio rate-limits the alert's SMS (429, ``Retry-After: 1``); the alert resolves meanwhile. Before,
    the resolution went out at once and the alert a second later: the phone's last word was ALERT."""
    said: list[str] = []
    limited = Answer(429, b'{"code": 20429, "message": "Too Many Requests", "status": 429}',
                     (("Retry-After", "1"), ("Content-Type", "application/json")))
    with StandIn(TWILIO_CREATED, [limited]) as twilio:
        notifier = Notifier(config(tmp_path, twilio.url), say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.2))
        notifier.serve()
        url = f"http://127.0.0.1:{notifier.config.port}"
        try:
            assert post(url, webhook("firing")) == 200
            eventually(lambda: twilio.received, 10, "the alert's first (rate-limited) attempt")
            assert post(url, webhook("resolved")) == 200
            eventually(lambda: len(twilio.snapshot()) == 2, 20, "both messages to be accepted")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
        finally:
            notifier.close()
    assert [line.split(" – ")[0] for line in _bodies(twilio.snapshot())] == [
        "[HMS-OPS] ALERT", "[HMS-OPS] RESOLVED"], said


def test_resumed_messages_of_one_alert_go_in_order_after_a_restart(tmp_path: Path) -> None:
    """Three incidents of one alert (fired, resolved, fired again) all undelivered when the notifier stopped:
    after the restart they leave one at a time, oldest first, though two workers serve the SMS lane."""
    said: list[str] = []
    port = free_port()  # nothing listens there yet: every attempt fails
    first = Notifier(config(tmp_path, f"http://127.0.0.1:{port}"), say=said.append,
                     backoff=Backoff(first_s=30, cap_s=60))
    first.serve()
    url = f"http://127.0.0.1:{first.config.port}"
    try:
        for status, starts in (("firing", "19:00"), ("resolved", "19:00"), ("firing", "19:30")):
            body = webhook(status).replace(b"T19:00:00", f"T{starts}:00".encode())
            assert post(url, body) == 200
            time.sleep(0.01)  # distinct creation times, as Alertmanager's requests have
        eventually(lambda: any(entry.attempts for entry in first.journal.entries()), 20,
                   "a failed delivery attempt")
        assert len(first.journal.pending()) == 3
    finally:
        first.close()
    hold = threading.Event()  # answers wait: a second message of the alert sent meanwhile is one in parallel
    with StandIn(TWILIO_CREATED, port=port, hold=hold) as twilio:
        second = Notifier(config(tmp_path, twilio.url, port=first.config.port), say=said.append,
                          backoff=Backoff(first_s=0.1, cap_s=0.2))
        second.serve()
        try:
            eventually(lambda: twilio.received, 10, "the first resumed message")
            time.sleep(0.5)  # room for a wrong parallel attempt (two workers serve the SMS lane)
            in_parallel = len(twilio.received)
            hold.set()
            eventually(lambda: len(twilio.snapshot()) == 3, 20, "the three resumed messages")
            eventually(second.dispatcher.idle, 10, "the dispatcher to finish")
        finally:
            hold.set()
            second.close()
    assert in_parallel == 1
    assert [line.split(" – ")[0] for line in _bodies(twilio.snapshot())] == [
        "[HMS-OPS] ALERT", "[HMS-OPS] RESOLVED", "[HMS-OPS] ALERT"], said
