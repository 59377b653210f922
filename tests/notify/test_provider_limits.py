"""What is sent fits each provider's documented limit and cannot be read as anything but text, whatever the
alert's labels and the logs hold: Slack mentions and markup escaped, a Teams card under Workflows' 28 KB,
an SMS within 160 characters, and no bidi override reordering any of them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs

from hms_otel.notify.config import SmsSettings
from hms_otel.notify.message import SEGMENT

from ..support import eventually
from .standins import SLACK_OK, TEAMS_ACCEPTED, TEAMS_MAX_BODY, TEAMS_TOO_LARGE, TWILIO_CREATED, StandIn
from .test_permanent_failures import running, send

#: Slack mention, mrkdwn, HTML, a newline, emoji, a right-to-left override and mark: what labels and log
#: lines can hold.
HOSTILE = "<!channel> *bold* _it_ <b>html</b> [x](https://evil.example) line\nbreak 💳\u202eDEVLOSER\u200f "
#: What may not reach a reader: controls (but the newlines that separate a message's lines), bidi
#: embeddings, overrides and isolates.
REORDERING = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_alert() -> bytes:
    long = (HOSTILE * 200)[:10_000]
    alert = {"status": "firing", "fingerprint": "f00d", "startsAt": "2026-11-26T19:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z",
             "labels": {"alertname": long, "job": long, "layer": long, "severity": long, "instance": long},
             "annotations": {"hms_metric": "payment_latency_ms", "hms_op": ">", "hms_threshold": "2000",
                             "hms_unit": "ms", "hms_value": "2934.5",
                             "hms_message": "Payment latency {{value}} ms (>2 s)",
                             "runbook_url": "https://runbooks.example.gov/" + "a" * 10_000}}
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def test_hostile_labels_and_logs_fit_every_provider_and_stay_text(tmp_path: Path) -> None:
    said: list[str] = []
    with (StandIn(TWILIO_CREATED) as twilio, StandIn(SLACK_OK) as slack,
          StandIn(TEAMS_ACCEPTED, too_large=(TEAMS_MAX_BODY, TEAMS_TOO_LARGE)) as teams):
        sms = SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url)
        with running(tmp_path, said, sms=sms, slack_default=f"{slack.url}/services/T0/B0/X",
                     teams={"ops": f"{teams.url}/workflows/1/invoke"}) as notifier:
            notifier.dispatcher.find_source = lambda _event: (HOSTILE * 50)[:5_000]
            for channel, target in (("sms", "+15551234"), ("slack", "#oncall"), ("teams", "ops")):
                send(notifier, channel, target, hostile_alert())
            eventually(lambda: twilio.snapshot() and slack.snapshot() and teams.received, 20, "three deliveries")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
        [sms_request], [slack_request] = twilio.snapshot(), slack.snapshot()
        cards = teams.snapshot()
    assert not any("gave up" in line for line in said), said

    [text] = parse_qs(sms_request.body.decode())["Body"]
    assert len(text) <= SEGMENT and not REORDERING.search(text), text

    slack_body = json.loads(slack_request.body)
    shown = [slack_body["text"], slack_body["blocks"][0]["text"]["text"]]
    for part in shown:
        assert "<!channel>" not in part and "<b>" not in part and "&lt;!channel&gt;" in part
        assert len(part) <= 3000 and not REORDERING.search(part), part  # a section's text: at most 3000

    assert len(cards) == 1, said  # refused with 413 before: the card held every label whole (371 KB)
    assert len(cards[0].body) <= TEAMS_MAX_BODY
    content = json.loads(cards[0].body)["attachments"][0]["content"]
    texts = [block["text"] for block in content["body"] if block["type"] == "TextBlock"]
    facts = [fact for block in content["body"] if block["type"] == "FactSet" for fact in block["facts"]]
    assert facts and all(len(fact["value"]) <= 200 for fact in facts), facts
    assert {fact["title"] for fact in facts} >= {"Service", "Layer", "Severity", "Alert"}
    for part in [*texts, *(fact["value"] for fact in facts)]:
        assert not REORDERING.search(part), part
    assert "actions" not in content or all(len(a["url"]) <= 2048 for a in content["actions"])


def test_a_link_in_a_label_or_log_line_cannot_mask_its_address_on_a_teams_card() -> None:
    """Adaptive Card text and fact values are Markdown: a log line "[https://runbooks...](https://evil...)"
    showed the trusted address as a link to the other one (Slack's ``<url|text>`` is already escaped)."""
    from hms_otel.notify.alert import AlertEvent
    from hms_otel.notify.message import compose
    from hms_otel.notify.providers import adaptive_card

    masked = "[https://runbooks.example.gov/pay](https://evil.example/login)"
    event = AlertEvent("firing", "payment_latency_high", "f1", "2026-11-26T19:00:00Z", "",
                       labels={"alertname": "payment_latency_high", "job": masked},
                       annotations={"hms_metric": "payment_latency_ms", "hms_value": "2934.5", "hms_unit": "ms",
                                    "hms_message": f"Pay {masked}"})
    content = adaptive_card(compose(event, f"login failed {masked}"), event)["attachments"][0]["content"]
    texts = [block["text"] for block in content["body"] if block["type"] == "TextBlock"]
    texts += [fact["value"] for block in content["body"] if block["type"] == "FactSet" for fact in block["facts"]]
    assert any(text.endswith("(https://evil.example/login)") for text in texts), texts  # shown, as text
    assert not any("](" in text for text in texts), texts
