"""A provider's ``Retry-After`` holds everything for it, not only the message it answered: Slack's incoming
webhooks take about one message a second and answer 429 ``rate_limited`` past a burst, and an app that keeps
posting while limited risks its webhook. Alertmanager sends a group's alerts in one request, so a burst is
the common case."""

from __future__ import annotations

import json
from pathlib import Path

from ..support import eventually
from .standins import SLACK_OK, Answer, StandIn
from .test_permanent_failures import running, send

SLACK_RATE_LIMITED = Answer(429, b"rate_limited", (("Retry-After", "2"), ("Content-Type", "text/plain")))


def alert(index: int) -> bytes:
    alerts = [{"status": "firing", "fingerprint": f"f{index}", "startsAt": "2026-11-26T19:00:00Z",
               "labels": {"alertname": f"alert_{index}"}}]
    return json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()


def test_a_429_holds_the_rest_of_the_burst_until_retry_after(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(SLACK_OK, [SLACK_RATE_LIMITED]) as slack:
        with running(tmp_path, said, slack_default=f"{slack.url}/services/T0/B0/X") as notifier:
            for index in range(10):  # ten alert rules firing at once: ten groups, ten requests
                send(notifier, "slack", "#oncall", alert(index))
            eventually(lambda: len(slack.snapshot()) == 10, 30, "all ten messages")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
    limited = slack.received[0]
    # The lane's other worker may have had its request out already; nothing else goes within Retry-After.
    too_soon = [request for request in slack.received[1:] if request.at - limited.at < 2.0]
    assert len(too_soon) <= 1, f"{len(too_soon)} requests within Retry-After: 2"
    assert len(slack.received) == 11, said  # one 429, then each message once
    assert sum("failing" in line for line in said) == 1, said
