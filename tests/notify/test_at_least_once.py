"""Delivery is at least once: an attempt cut after the receiver took the message is sent again, and a
webhook receiver can tell the repeat by its delivery id."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.delivery import Backoff
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually
from .standins import Answer, StandIn
from .test_delivery import TOKEN
from .test_permanent_failures import send


def test_a_webhook_attempt_cut_after_it_was_taken_is_sent_again_with_the_same_delivery_id(tmp_path: Path) -> None:
    said: list[str] = []
    release = threading.Event()
    with StandIn(Answer(200), hold=release) as receiver:
        try:
            config = NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state",
                                    webhook_allowed_hosts=("127.0.0.1",))
            notifier = Notifier(config, say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.2, attempt_s=0.5))
            notifier.serve()
            try:
                send(notifier, "webhook", f"{receiver.url}/hook")
                # The receiver has the first attempt but answers only after its deadline: cut, and sent again.
                eventually(lambda: len(receiver.received) >= 2, 20, "the attempt to be cut and sent again")
                release.set()
                eventually(notifier.dispatcher.idle, 20, "the message to be delivered")
            finally:
                notifier.close()
        finally:
            release.set()
    keys = {request.headers.get("idempotency-key") for request in receiver.received}
    ids = {json.loads(request.body)["delivery_id"] for request in receiver.received}
    [entry] = notifier.journal.entries()
    assert keys == ids == {entry.delivery_id}, (keys, ids)
    assert entry.state == "delivered"


def test_the_delivery_id_is_kept_across_a_restart_and_new_for_a_later_journaling(tmp_path: Path) -> None:
    import json as json_module

    from hms_otel.notify.alert import parse_webhook
    from hms_otel.notify.journal import Journal

    from .test_delivery import webhook

    event = parse_webhook(json_module.loads(webhook()))[0]
    journal = Journal(tmp_path / "journal", dedup_window_s=0.0)
    first = journal.add("webhook", "https://example.com/x", event)
    assert first is not None
    [read_back] = Journal(tmp_path / "journal").entries()
    assert read_back.delivery_id == first.delivery_id
    first.state, first.delivered_at = "delivered", first.created
    journal.save(first)
    later = journal.add("webhook", "https://example.com/x", event)  # past the dedup window: a new message
    assert later is not None and later.delivery_id != first.delivery_id


def test_a_stop_lets_an_answer_on_its_way_arrive_and_sends_nothing_twice(tmp_path: Path) -> None:
    """SIGTERM while Twilio was answering (it takes a fraction of a second): the attempt was cut at once,
    the message stayed pending, and the next start sent the SMS a second time. A stop now gives attempts in
    flight a few seconds to end by themselves before it cuts them."""
    from hms_otel.notify.config import SmsSettings

    from .standins import TWILIO_CREATED

    said: list[str] = []
    release = threading.Event()
    with StandIn(TWILIO_CREATED, hold=release) as twilio:
        config = NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state",
                                sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url))
        try:
            first = Notifier(config, say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.2))
            first.serve()
            try:
                send(first, "sms", "+15551234")
                eventually(lambda: twilio.received, 10, "the SMS on its way")
                threading.Timer(1.0, release.set).start()  # Twilio answers 1 s into the stop
            finally:
                first.close()
        finally:
            release.set()
        [entry] = first.journal.entries()
        assert entry.state == "delivered", said
        second = Notifier(config, say=said.append, backoff=Backoff(first_s=0.1, cap_s=0.2))
        second.serve()
        try:
            eventually(second.dispatcher.idle, 10, "the restarted notifier to have nothing left")
        finally:
            second.close()
    assert len(twilio.received) == 1, said
