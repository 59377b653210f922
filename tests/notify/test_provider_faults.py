"""Providers that answer garbage, point nowhere or ask to wait for ever: every message still arrives
or is printed, and the console says why."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from hms_otel.notify.config import NotifierConfig, SmsSettings
from hms_otel.notify.delivery import Backoff
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually
from .standins import SLACK_OK, TWILIO_CREATED, Answer, StandIn
from .test_delivery import TOKEN, post, webhook
from .test_permanent_failures import running, send


@contextmanager
def raw_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """Accepts connections one at a time; ``answer(connection, stop)`` speaks to each after its request."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    answer(conn, stop)
                except OSError:  # the client hung up
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def garbage_server() -> AbstractContextManager[str]:
    """Answers a line that is not HTTP."""
    return raw_server(lambda conn, _stop: conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"))


def endless_answer(conn: socket.socket, stop: threading.Event) -> None:
    """201 Created, then a chunked body that never ends (until the test is over)."""
    conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    while not stop.wait(0.05):
        conn.sendall(b"400\r\n" + b" " * 0x400 + b"\r\n")


def notifier(tmp_path: Path, base_url: str, said: list[str], backoff: Backoff) -> Notifier:
    config = NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state",
                            sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=base_url))
    return Notifier(config, say=said.append, backoff=backoff)


def post_until_given_up(running: Notifier, said: list[str]) -> None:
    """Serve, post the tutorial's alert, and wait until the notifier has given it up and let it go."""
    running.serve()
    try:
        assert post(f"http://127.0.0.1:{running.config.port}", webhook()) == 200
        eventually(lambda: any("gave up" in line for line in said), 20, "the message to be given up")
        eventually(running.dispatcher.idle, 10, "the dispatcher to let it go")
    finally:
        running.close()


def test_a_provider_answering_garbage_is_a_reported_failure_and_the_message_is_printed_in_the_end(
        tmp_path: Path) -> None:
    said: list[str] = []
    with garbage_server() as url:
        post_until_given_up(notifier(tmp_path, url, said, Backoff(first_s=0.1, cap_s=0.2, max_age_s=1.0)), said)
    failing = [line for line in said if "failing" in line]
    assert len(failing) == 1 and "not HTTP" in failing[0], said
    assert "payment_latency_ms 2.9 s" in (tmp_path / "state" / "outbox.txt").read_text()


def test_a_provider_whose_answer_never_ends_has_the_message_after_its_status(tmp_path: Path) -> None:
    """The answer's body was read to its end before the delivery counted: one that never ends held the message
    and a delivery worker for good (four such answers, every channel)."""
    said: list[str] = []
    with raw_server(endless_answer) as url:
        running = notifier(tmp_path, url, said, Backoff(first_s=0.1, cap_s=0.2))
        running.serve()
        try:
            assert post(f"http://127.0.0.1:{running.config.port}", webhook()) == 200
            eventually(running.dispatcher.idle, 20, "the delivery to finish")
        finally:
            running.close()
    entries = [json.loads(path.read_text()) for path in (tmp_path / "state" / "journal").glob("*.json")]
    assert [(entry["state"], entry["attempts"]) for entry in entries] == [("delivered", 1)], said


def test_a_provider_url_without_a_scheme_is_given_up_at_once(tmp_path: Path) -> None:
    """No attempt can ever reach a URL without http(s)://: the message is printed at once, not after a day."""
    said: list[str] = []
    post_until_given_up(notifier(tmp_path, "api.twilio.example", said, Backoff(first_s=0.1, cap_s=0.2)), said)
    assert any("gave up" in line and "at once" in line and "api.twilio.example" in line for line in said), said
    assert "payment_latency_ms 2.9 s" in (tmp_path / "state" / "outbox.txt").read_text()


def test_a_retry_after_of_years_is_not_honoured_past_the_cap(tmp_path: Path) -> None:
    said: list[str] = []
    forever = Answer(429, b"slow down", (("Retry-After", "999999999"),))
    with StandIn(TWILIO_CREATED, [forever]) as twilio:
        running = notifier(tmp_path, twilio.url, said,
                           Backoff(first_s=0.1, cap_s=0.2, retry_after_cap_s=0.5))
        running.serve()
        try:
            assert post(f"http://127.0.0.1:{running.config.port}", webhook()) == 200
            eventually(twilio.snapshot, 20, "the retry after the capped Retry-After")
        finally:
            running.close()
        assert len(twilio.received) == 2
        assert twilio.received[1].at - twilio.received[0].at < 5


def test_a_bug_in_a_provider_is_said_once_and_gives_up_in_the_end(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hms_otel.notify.providers import TwilioSms

    def broken(*_args: object) -> None:
        raise KeyError("sid")

    monkeypatch.setattr(TwilioSms, "send", broken)
    said: list[str] = []
    post_until_given_up(
        notifier(tmp_path, "https://api.twilio.example", said, Backoff(first_s=0.1, cap_s=0.2, max_age_s=1.0)), said)
    assert len([line for line in said if "internal error" in line and "KeyError" in line]) == 2, said
    # Given up like any failure: the message printed and kept (it was neither).
    assert "payment_latency_ms 2.9 s" in (tmp_path / "state" / "outbox.txt").read_text()


def test_a_full_disk_under_the_outbox_still_shows_the_message(tmp_path: Path) -> None:
    from hms_otel.notify.message import Message
    from hms_otel.notify.providers import LocalPrinter

    from .test_message import event

    said: list[str] = []
    outbox = tmp_path / "outbox.txt"
    outbox.mkdir()  # appending fails as on a full disk (IsADirectoryError is an OSError like ENOSPC)
    LocalPrinter(outbox, said.append, "sms").send("+15551234", Message("[HMS-OPS] ALERT – x", "body", None), event())
    assert any("[HMS-OPS] ALERT – x" in line for line in said), said
    assert any("not kept in" in line and str(outbox) in line for line in said), said


def test_a_hanging_sms_provider_leaves_delivery_workers_for_the_other_channels(tmp_path: Path) -> None:
    """Six SMS attempts hanging on the provider took all four delivery workers: a Slack message waited
    behind them, up to the provider timeout per attempt. An SMS provider now holds at most two."""
    said: list[str] = []
    release = threading.Event()
    with StandIn(TWILIO_CREATED, hold=release) as twilio, StandIn(SLACK_OK) as slack:
        try:
            with running(tmp_path, said, sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url),
                         slack_default=f"{slack.url}/services/T0/B0/x") as notifier:
                for number in range(6):
                    send(notifier, "sms", "+15551234", webhook(fingerprint=f"sms{number}"))
                eventually(lambda: len(twilio.received) >= 2, 10, "two SMS attempts hanging on the provider")
                send(notifier, "slack", "#payments")
                eventually(slack.snapshot, 10, "the Slack message while the SMS provider hangs")
                assert len(twilio.received) == 2, "the SMS provider holds two workers, not more"
                release.set()
                eventually(notifier.dispatcher.idle, 30, "every SMS once the provider answers")
        finally:
            release.set()
    states = [json.loads(path.read_text())["state"] for path in (tmp_path / "state" / "journal").glob("*.json")]
    assert states == ["delivered"] * 7, said


def dribble_answer(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header byte at a time, never ending: each read is quick, the answer endless."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(0.2):
        conn.sendall(b"X")


def test_a_provider_that_dribbles_its_answer_is_cut_at_the_attempts_deadline(tmp_path: Path) -> None:
    """A byte every few seconds never tripped the socket timeout: the attempt, and its worker, were held for good,
    nothing was retried, given up or said."""
    said: list[str] = []
    with raw_server(dribble_answer) as url:
        post_until_given_up(notifier(tmp_path, url, said, Backoff(first_s=0.1, cap_s=0.2, max_age_s=1.0,
                                                                  attempt_s=0.5)), said)
    failing = [line for line in said if "failing" in line]
    assert len(failing) == 1 and "no complete answer within 0.5 s" in failing[0], said
    assert "payment_latency_ms 2.9 s" in (tmp_path / "state" / "outbox.txt").read_text()


def test_two_slack_channels_on_one_hanging_host_leave_workers_for_sms(tmp_path: Path) -> None:
    """The lane limit was per channel: two Slack channels on one hanging URL took all four workers, and an SMS to
    a healthy provider waited. Attempts to one host now hold at most two workers."""
    said: list[str] = []
    release = threading.Event()
    with StandIn(SLACK_OK, hold=release) as slack, StandIn(TWILIO_CREATED) as twilio:
        try:
            with running(tmp_path, said, sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url),
                         slack_channels={"#a": f"{slack.url}/services/T/B/a",
                                         "#b": f"{slack.url}/services/T/B/b"}) as notifier:
                for channel in ("#a", "#b"):
                    for number in range(2):
                        send(notifier, "slack", channel, webhook(fingerprint=f"{channel}{number}"))
                eventually(lambda: len(slack.received) >= 2, 10, "two Slack attempts hanging on the host")
                send(notifier, "sms", "+15551234")
                eventually(twilio.snapshot, 10, "the SMS while the Slack host hangs")
                assert len(slack.received) == 2, "one host holds two workers, not more"
                release.set()
                eventually(notifier.dispatcher.idle, 30, "every message once the host answers")
        finally:
            release.set()


def test_stopping_does_not_wait_for_a_hanging_provider_and_keeps_its_message(tmp_path: Path) -> None:
    """stop() waited for attempts in flight: a provider that never answered kept the notifier from exiting on
    SIGTERM. It now stops within seconds, and the message stays pending for the next start."""
    import time

    said: list[str] = []
    release = threading.Event()
    with StandIn(TWILIO_CREATED, hold=release) as twilio:
        try:
            with running(tmp_path, said,
                         sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url)) as notifier:
                send(notifier, "sms", "+15551234")
                eventually(lambda: twilio.received, 10, "the SMS attempt hanging on the provider")
                started = time.monotonic()
                notifier.close()
                assert time.monotonic() - started < 10, "stopped within a bounded time"
                states = [json.loads(path.read_text())["state"] for path in notifier.journal.directory.glob("*.json")]
                assert states == ["pending"], said
        finally:
            release.set()
    assert not any("failing" in line or "gave up" in line for line in said), said


def test_a_retry_after_with_a_digit_float_cannot_read_is_ignored(tmp_path: Path) -> None:
    """``Retry-After: ²`` passed isdigit() and failed float(): an "internal error", and given up unprinted."""
    said: list[str] = []
    with StandIn(TWILIO_CREATED, [Answer(429, b"slow down", (("Retry-After", "\xb2"),))]) as twilio:
        running_ = notifier(tmp_path, twilio.url, said, Backoff(first_s=0.1, cap_s=0.2))
        running_.serve()
        try:
            assert post(f"http://127.0.0.1:{running_.config.port}", webhook()) == 200
            eventually(twilio.snapshot, 20, "the SMS after the 429")
        finally:
            running_.close()
    assert not any("internal error" in line for line in said), said
    assert any("failing" in line and "HTTP 429" in line for line in said), said


def test_an_error_answer_with_a_broken_body_is_a_provider_failure(tmp_path: Path) -> None:
    """A 503 whose chunked body was malformed raised IncompleteRead out of the provider: an "internal error"."""
    answers = iter([b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbroken",
                    TWILIO_CREATED_RAW])

    def answer(conn: socket.socket, _stop: threading.Event) -> None:
        conn.sendall(next(answers, TWILIO_CREATED_RAW))

    said: list[str] = []
    with raw_server(answer) as url:
        running_ = notifier(tmp_path, url, said, Backoff(first_s=0.1, cap_s=0.2))
        running_.serve()
        try:
            assert post(f"http://127.0.0.1:{running_.config.port}", webhook()) == 200
            eventually(running_.dispatcher.idle, 20, "the SMS after the 503")
        finally:
            running_.close()
    assert not any("internal error" in line for line in said), said
    assert any("failing" in line and "HTTP 503" in line for line in said), said
    entries = [json.loads(path.read_text()) for path in (tmp_path / "state" / "journal").glob("*.json")]
    assert [entry["state"] for entry in entries] == ["delivered"], said


TWILIO_CREATED_RAW = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_a_tls_failure_says_what_to_fix_not_the_network(tmp_path: Path) -> None:
    """An https:// URL on a port that speaks plain HTTP (or a certificate this machine does not trust) was
    reported as "check the network", and retried for a day with that advice."""
    from hms_otel.notify.providers import DeliveryFailed, post

    with StandIn(SLACK_OK) as slack:
        with pytest.raises(DeliveryFailed) as failed:
            post(slack.url.replace("http://", "https://") + "/services/T0/B0/X", b"{}", {}, fix="unused")
    assert "does not speak TLS" in failed.value.fix and "https://" in failed.value.fix, failed.value.fix
    assert not failed.value.permanent  # a provider's TLS can be mended on its side: retried, said once
    assert slack.received == []


def test_an_error_answer_without_a_body_reads_as_a_sentence(tmp_path: Path) -> None:
    from hms_otel.notify.providers import DeliveryFailed, post

    with StandIn(SLACK_OK, [Answer(429, b"", (("Retry-After", "7"),))]) as slack:
        with pytest.raises(DeliveryFailed) as failed:
            post(f"{slack.url}/services/T0/B0/X", b"{}", {}, fix="unused")
    assert failed.value.reason.endswith("answered HTTP 429, with no reason given"), failed.value.reason
    assert failed.value.retry_after == 7.0
