"""An answer that retrying cannot change (a wrong number, wrong credentials, a revoked webhook) gives the
message up at once: printed and kept in the outbox, counted, one console line with the provider's words and
the fix, and never sent again; rate limits and outages are still retried."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from hms_otel import http
from hms_otel.notify.config import NotifierConfig, SmsSettings
from hms_otel.notify.delivery import Backoff
from hms_otel.notify.providers import is_permanent
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually
from .standins import SLACK_OK, TWILIO_CREATED, Answer, StandIn
from .test_delivery import TOKEN, webhook

HEADLINE = "[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)"
#: Twilio's documented answer for an invalid 'To' (twilio.com/docs/api/errors/21211).
TWILIO_21211 = Answer(400, json.dumps({"code": 21211,
                                       "message": "The 'To' number +15551234 is not a valid phone number.",
                                       "more_info": "https://www.twilio.com/docs/errors/21211",
                                       "status": 400}).encode(), (("Content-Type", "application/json"),))
TWILIO_20003 = Answer(401, json.dumps({"code": 20003, "message": "Authenticate",
                                       "more_info": "https://www.twilio.com/docs/errors/20003",
                                       "status": 401}).encode(), (("Content-Type", "application/json"),))
SLACK_NO_SERVICE = Answer(404, b"no_service", (("Content-Type", "text/html"),))
GONE = Answer(410, b"this hook was deleted")


@contextmanager
def running(tmp_path: Path, said: list[str], **settings: Any) -> Iterator[Notifier]:
    """A notifier with the default 24-hour ``max_age``: a message given up within seconds was given up
    because of the answer, not its age."""
    config = NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state", **settings)
    notifier = Notifier(config, say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.2))
    notifier.serve()
    try:
        yield notifier
    finally:
        notifier.close()


def send(notifier: Notifier, channel: str, target: str, body: bytes | None = None) -> None:
    """Post ``body`` (default: the tutorial's alert) to ``notifier`` for ``channel:target``."""
    http.request("POST", f"http://127.0.0.1:{notifier.config.port}/v1/alerts?channel={channel}&target={quote(target)}",
                 data=body or webhook(), headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {TOKEN}"})


def given_up(notifier: Notifier, said: list[str], stand_in: StandIn) -> tuple[str, list[dict[str, Any]]]:
    """Waits for the give-up, then long enough for a wrong retry (backoff 0.1-0.2 s) to show."""
    started = time.monotonic()
    eventually(lambda: any("gave up" in line for line in said), 10, "the message to be given up")
    eventually(notifier.dispatcher.idle, 10, "the dispatcher to let it go")
    assert time.monotonic() - started < 10  # at once, not after max_age (24 h)
    time.sleep(1)
    assert len(stand_in.received) == 1, "a final answer is not retried"
    [line] = [line for line in said if "gave up" in line]
    entries = [json.loads(path.read_text()) for path in notifier.journal.directory.glob("*.json")]
    return line, entries


def assert_printed_and_kept(tmp_path: Path, said: list[str], header: str) -> None:
    shown = "\n".join(said)
    assert header in shown and HEADLINE in shown, said
    outbox = (tmp_path / "state" / "outbox.txt").read_text()
    assert HEADLINE in outbox


def test_twilio_refusing_the_number_gives_up_at_once_naming_the_number(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(TWILIO_CREATED, [TWILIO_21211] * 5) as twilio:
        with running(tmp_path, said, sms=SmsSettings("AC1", "secret", sender="+15550100",
                                                     base_url=twilio.url)) as notifier:
            send(notifier, "sms", "+15551234")
            line, [entry] = given_up(notifier, said, twilio)
    assert "sms:+15551234 at once" in line and "HTTP 400" in line, line
    assert "The 'To' number +15551234 is not a valid phone number. (code 21211)" in line, line
    assert "Fix: the number +15551234 in the alert file's sms: action" in line, line
    assert_printed_and_kept(tmp_path, said, "📱 SMS to +15551234 (not sent: delivery given up, see the line above)")
    assert entry["state"] == "expired" and entry["attempts"] == 1 and "HTTP 400" in entry["last_error"]
    assert not any("Retrying" in text for text in said), said


def test_twilio_refusing_the_credentials_names_the_settings(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(TWILIO_CREATED, [TWILIO_20003] * 5) as twilio:
        with running(tmp_path, said, sms=SmsSettings("AC1", "wrong", sender="+15550100",
                                                     base_url=twilio.url)) as notifier:
            send(notifier, "sms", "+15551234")
            line, _entries = given_up(notifier, said, twilio)
    assert "HTTP 401: Authenticate (code 20003)" in line, line
    assert "HMS_TWILIO_ACCOUNT_SID and HMS_TWILIO_AUTH_TOKEN" in line, line
    assert_printed_and_kept(tmp_path, said, "📱 SMS to +15551234")


def test_a_revoked_slack_webhook_gives_up_at_once_with_slacks_word(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(SLACK_OK, [SLACK_NO_SERVICE] * 5) as slack:
        with running(tmp_path, said, slack_default=f"{slack.url}/services/T0/B0/x") as notifier:
            send(notifier, "slack", "#ach-ops")
            line, [entry] = given_up(notifier, said, slack)
            assert notifier.dispatcher._failing == {"slack:#ach-ops": 1}  # counted for "works again"
    assert "slack:#ach-ops at once" in line and "HTTP 404: no_service" in line, line
    assert "Fix: the Slack webhook for #ach-ops is wrong or revoked" in line, line
    assert_printed_and_kept(tmp_path, said, "📱 Slack to #ach-ops")
    assert entry["state"] == "expired" and entry["attempts"] == 1


def test_a_webhook_that_is_gone_gives_up_at_once(tmp_path: Path) -> None:
    said: list[str] = []
    with StandIn(Answer(200), [GONE] * 5) as hook:
        target = f"{hook.url}/hooks/ops"
        with running(tmp_path, said, webhook_allowed_hosts=("127.0.0.1",)) as notifier:
            send(notifier, "webhook", target)
            line, [entry] = given_up(notifier, said, hook)
    assert f"webhook:{target} at once" in line and "HTTP 410: this hook was deleted" in line, line
    assert "Fix: the webhook" in line, line
    assert_printed_and_kept(tmp_path, said, f"📱 webhook to {target}")
    assert entry["state"] == "expired"


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_outages_are_still_retried(tmp_path: Path, status: int) -> None:
    said: list[str] = []
    with StandIn(SLACK_OK, [Answer(status, b"rate_limited" if status == 429 else b"busy")] * 2) as slack:
        with running(tmp_path, said, slack_default=f"{slack.url}/services/T0/B0/x") as notifier:
            send(notifier, "slack", "#ach-ops")
            eventually(slack.snapshot, 20, "the message after the retries")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
        assert len(slack.received) == 3
    assert not any("gave up" in line for line in said), said
    assert any(f"HTTP {status}" in line and "Retrying" in line for line in said), said
    assert any("works again (after 2 failed attempts)" in line for line in said), said
    assert not (tmp_path / "state" / "outbox.txt").exists()


def test_twilios_full_sender_queue_is_retried_though_it_is_a_400(tmp_path: Path) -> None:
    """Twilio answers 400 code 21611 while the sender's queue is full; it takes messages again as the queue
    drains. Given up at once like other 400s, the page reached nobody's phone."""
    full_queue = Answer(400, json.dumps({"code": 21611, "message": "This 'From' number has exceeded the maximum "
                                         "number of queued messages", "status": 400}).encode(),
                        (("Content-Type", "application/json"),))
    said: list[str] = []
    with StandIn(TWILIO_CREATED, [full_queue] * 2) as twilio:
        with running(tmp_path, said, sms=SmsSettings("AC1", "secret", sender="+15550100",
                                                     base_url=twilio.url)) as notifier:
            send(notifier, "sms", "+15551234")
            eventually(twilio.snapshot, 20, "the SMS after the queue drained")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
        assert len(twilio.received) == 3
    assert not any("gave up" in line for line in said), said
    [failing] = [line for line in said if "failing" in line]
    assert "(code 21611)" in failing and "Messaging Service" in failing and "Retrying" in failing, failing


def test_which_answers_are_final() -> None:
    assert [s for s in (301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 410, 413, 422) if not is_permanent(s)] == []
    assert [s for s in (None, 200, 408, 409, 425, 429, 500, 502, 503, 504) if is_permanent(s)] == []


@pytest.mark.parametrize(("target", "said"), [
    ("data:,hello", "only http:// and https://"),                 # urllib "delivered" the URL to itself
    ("file:///etc/hostname", "only http:// and https://"),        # ... and read a local file
    ("gopher://x/", "only http:// and https://"),                 # retried for a day
    ("http://[::1", "not a URL"),                                 # urlsplit raised: an "internal error"
    ("http://127.0.0.1:9093/api/v2/silences", "loopback"),        # refused by the alert compiler, not here
])
def test_a_webhook_target_that_cannot_be_posted_to_is_refused_with_a_400(tmp_path: Path, target: str,
                                                                         said: str) -> None:
    with running(tmp_path, []) as notifier:
        with pytest.raises(http.HTTPError) as refused:
            send(notifier, "webhook", target)
        assert refused.value.status == 400
        assert said in str(refused.value), str(refused.value)
        assert list(notifier.journal.directory.glob("*.json")) == []


def test_a_journaled_webhook_target_that_is_no_http_url_is_given_up_at_once(tmp_path: Path) -> None:
    """Journaled before targets were checked at /v1/alerts: counted as delivered, though nothing was sent."""
    from hms_otel.notify.alert import parse_webhook
    from hms_otel.notify.journal import Journal

    Journal(tmp_path / "state" / "journal").add("webhook", "data:,hello", parse_webhook(json.loads(webhook()))[0])
    said: list[str] = []
    with running(tmp_path, said) as notifier:
        eventually(lambda: any("gave up" in line for line in said), 10, "the message to be given up")
        eventually(notifier.dispatcher.idle, 10, "the dispatcher to let it go")
    [line] = [line for line in said if "gave up" in line]
    assert "at once" in line and "only http:// and https://" in line, line
    assert_printed_and_kept(tmp_path, said, "📱 webhook to data:,hello (not sent: delivery given up")
    [entry] = [json.loads(path.read_text()) for path in (tmp_path / "state" / "journal").glob("*.json")]
    assert entry["state"] == "expired"


def test_a_redirect_is_not_followed_and_gives_up_at_once(tmp_path: Path) -> None:
    """A 302 turned the POST into a GET without the alert, counted as delivered, and took a webhook past its
    address check. It is now a final answer naming where it pointed; the message is printed."""
    said: list[str] = []
    with StandIn(SLACK_OK) as elsewhere:
        moved = Answer(302, b"", (("Location", f"{elsewhere.url}/admin/api?token=s3cret"),))
        with StandIn(moved) as slack, running(tmp_path, said,
                                              slack_default=f"{slack.url}/services/T0/B0/x") as notifier:
            send(notifier, "slack", "#payments")
            line, entries = given_up(notifier, said, slack)
        assert elsewhere.received == []
    assert "HTTP 302" in line and f"redirect to {elsewhere.url}," in line and "s3cret" not in line, line
    assert [entry["state"] for entry in entries] == ["expired"]
    assert_printed_and_kept(tmp_path, said, "📱 Slack to #payments (not sent: delivery given up")


def test_a_webhook_refused_by_the_address_check_at_send_time_is_given_up_at_once(tmp_path: Path) -> None:
    """A name that resolves to this machine passes /v1/alerts and is refused at send time; that refusal was
    retried for a day, though nothing but a config change can make it pass."""
    from hms_otel.notify.alert import parse_webhook
    from hms_otel.notify.journal import Journal

    target = "http://127.0.0.1:9/hook"  # journaled directly: /v1/alerts refuses a literal loopback address
    Journal(tmp_path / "state" / "journal").add("webhook", target, parse_webhook(json.loads(webhook()))[0])
    said: list[str] = []
    with running(tmp_path, said) as notifier:
        eventually(lambda: any("gave up" in line for line in said), 10, "the message to be given up")
        eventually(notifier.dispatcher.idle, 10, "the dispatcher to let it go")
    [line] = [line for line in said if "gave up" in line]
    assert "at once" in line and "is loopback" in line, line
    assert_printed_and_kept(tmp_path, said, f"📱 webhook to {target} (not sent: delivery given up")


def test_given_up_messages_are_counted_and_said_again_at_the_next_start(tmp_path: Path) -> None:
    """A refused SMS was said once on the console and printed to the outbox, and counted nowhere: a week later
    nothing told how many pages had not gone out."""
    said: list[str] = []
    with StandIn(TWILIO_CREATED, [TWILIO_21211]) as twilio:
        sms = SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url)
        with running(tmp_path, said, sms=sms) as notifier:
            send(notifier, "sms", "+15551234")
            send(notifier, "sms", "+15551234", webhook(fingerprint="other"))
            eventually(lambda: len(twilio.snapshot()) == 1, 20, "the second SMS to be delivered")
            eventually(notifier.dispatcher.idle, 10, "the dispatcher to finish")
            answer = json.loads(http.request("GET", f"http://127.0.0.1:{notifier.config.port}/-/messages"))
        assert answer["messages"] == {"sms": {"pending": 0, "delivered": 1, "expired": 1}}, answer
        assert answer["message"].startswith("0 pending, 1 given up in the last 7 days (printed and kept in ")
        assert "+15551234" not in json.dumps(answer)  # no destination is shown
        with running(tmp_path, said, sms=sms):
            pass
    assert any(line.startswith("✗ notifier: 1 message given up in the last 7 days") for line in said), said
