"""Hostile or broken requests and a broken disk: a clear answer, no traceback, nothing lost."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually

TOKEN = "t0ken-for-tests"


@pytest.fixture()
def notifier(tmp_path: Path) -> Iterator[Notifier]:
    said: list[str] = []
    running = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state"),
                       say=said.append)
    running.said = said  # type: ignore[attr-defined]
    running.serve()
    try:
        yield running
    finally:
        running.close()


def exchange(notifier: Notifier, head: bytes, body: bytes = b"", timeout: float = 10.0) -> bytes:
    """Send raw bytes; everything the notifier answers before it closes the connection."""
    with socket.create_connection(("127.0.0.1", notifier.config.port), timeout=timeout) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def post_raw(notifier: Notifier, body: bytes, length: str | None = None, target: bytes = b"%2B15551234") -> bytes:
    head = (b"POST /v1/alerts?channel=sms&target=" + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + (length if length is not None else str(len(body))).encode() + b"\r\n\r\n")
    return exchange(notifier, head, body)


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


@pytest.mark.parametrize(("body", "length"), [
    (b"[" * 200_000, None),                                                   # nested deeper than any parser
    (b'{"alerts": [{"labels": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}]}", None),
    (b"{}", "abc"),                                                           # Content-Length not a number
    (b"{}", "-1"),                                                            # would read until the client hangs up
    (b"{}", "1e3"),
])
def test_malformed_requests_get_a_400_not_a_traceback(notifier: Notifier, capfd: pytest.CaptureFixture[str],
                                                      body: bytes, length: str | None) -> None:
    answer = post_raw(notifier, body, length)
    assert status(answer) == 400, answer[:300]
    message = json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"]
    assert "Content-Length" in message or "nested" in message
    assert "Traceback" not in capfd.readouterr().err
    assert list(notifier.journal.directory.glob("*.json")) == []


def alerts_body(*alerts: dict[str, object]) -> bytes:
    return json.dumps({"version": "4", "status": "firing", "alerts": list(alerts)}).encode()


def test_one_unencodable_alert_loses_none_of_its_group(notifier: Notifier) -> None:
    # A lone surrogate (valid JSON escape, not encodable as UTF-8) in the middle alert of a group.
    body = alerts_body({"labels": {"alertname": "first"}, "fingerprint": "f1"},
                       {"labels": {"alertname": "second \ud800 half"}, "fingerprint": "f2",
                        "annotations": {"message": "broken \udfff text"}},
                       {"labels": {"alertname": "third"}, "fingerprint": "f3"})
    answer = post_raw(notifier, body)
    assert status(answer) == 200, answer
    assert b"journaled 3" in answer
    names = sorted(entry.alert().name for entry in notifier.journal.entries())
    assert names == ["first", "second \ufffd half", "third"]


def test_alerts_without_a_fingerprint_are_told_apart_by_their_labels(notifier: Notifier) -> None:
    body = alerts_body({"labels": {"alertname": "disk_full", "instance": "db1"}},
                       {"labels": {"alertname": "disk_full", "instance": "db2"}})
    assert b"journaled 2, collapsed 0" in post_raw(notifier, body)
    assert b"journaled 0, collapsed 2" in post_raw(notifier, body)  # a re-send is still collapsed


def test_null_labels_are_left_out_and_other_json_values_kept_as_json(notifier: Notifier) -> None:
    """A `null` label or annotation reached the phone as "None"; `true` as "True"."""
    body = alerts_body({"labels": {"alertname": "disk_full", "instance": None, "replica": 2, "primary": True},
                        "annotations": {"summary": None, "hms_value": 91.5}, "fingerprint": "f1"})
    assert b"journaled 1" in post_raw(notifier, body)
    [entry] = notifier.journal.entries()
    alert = entry.alert()
    assert alert.labels == {"alertname": "disk_full", "replica": "2", "primary": "true"}
    assert alert.annotations == {"hms_value": "91.5"}


def test_a_full_disk_answers_503_and_the_resend_loses_nothing(notifier: Notifier,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from hms_otel.notify import journal

    body = alerts_body(*({"labels": {"alertname": f"a{n}"}, "fingerprint": f"f{n}"} for n in range(3)))
    real_replace = journal._replace
    calls = []

    def full_after_one(path: Path, data: bytes, *, durable: bool) -> None:
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(path, data, durable=durable)

    monkeypatch.setattr(journal, "_replace", full_after_one)
    answer = post_raw(notifier, body)
    assert status(answer) == 503, answer
    assert b"No space left on device" in answer
    said = notifier.said  # type: ignore[attr-defined]
    assert any("journal" in line and "No space left" in line for line in said), said
    assert notifier.journal.entries() == []  # none of a refused request is kept: its re-send is not collapsed
    monkeypatch.setattr(journal, "_replace", real_replace)
    answer = post_raw(notifier, body)  # Alertmanager re-sends the group
    assert b"journaled 3, collapsed 0" in answer, answer
    assert sorted(entry.alert().name for entry in notifier.journal.entries()) == ["a0", "a1", "a2"]


def test_a_client_that_stalls_is_hung_up_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from hms_otel.notify import server

    monkeypatch.setattr(server, "_CLIENT_TIMEOUT_S", 1.0)
    slow = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state"),
                    say=lambda _text: None)
    slow.serve()
    try:
        for partial in (b"POST /v1/alerts HTTP/1.1\r\nHost: x\r\n",  # headers never finished
                        b"POST /v1/alerts?channel=sms&target=%2B1555 HTTP/1.1\r\nAuthorization: Bearer "
                        + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"alerts\""):  # body never finished
            with socket.create_connection(("127.0.0.1", slow.config.port), timeout=10) as conn:
                conn.sendall(partial)
                started = time.monotonic()
                while conn.recv(65536):
                    pass
                assert time.monotonic() - started < 5  # hung up on, not held for ever
    finally:
        slow.close()
    assert list((tmp_path / "state" / "journal").glob("*.json")) == []


def test_a_client_that_sends_less_than_it_declared_gets_a_400_not_a_journal_alarm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its read timeout was caught with the journal's OSErrors: "cannot write the journal ... free space" and a 503."""
    from hms_otel.notify import server

    monkeypatch.setattr(server, "_CLIENT_TIMEOUT_S", 1.0)
    said: list[str] = []
    short = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state"), say=said.append)
    short.serve()
    try:
        body = alerts_body({"labels": {"alertname": "a"}})
        with socket.create_connection(("127.0.0.1", short.config.port), timeout=10) as conn:
            conn.sendall(b"POST /v1/alerts?channel=sms&target=%2B1555 HTTP/1.1\r\nAuthorization: Bearer "
                         + TOKEN.encode() + f"\r\nContent-Length: {len(body) + 50}\r\n\r\n".encode() + body)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert status(answer) == 400 and b"Content-Length" in answer, answer
        with socket.create_connection(("127.0.0.1", short.config.port), timeout=10) as conn:  # gone mid-body
            conn.sendall(b"POST /v1/alerts?channel=sms&target=%2B1555 HTTP/1.1\r\nAuthorization: Bearer "
                         + TOKEN.encode() + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        import time
        time.sleep(0.5)
    finally:
        short.close()
    assert not any("journal" in line for line in said), said


def test_a_target_or_alert_with_newlines_cannot_forge_an_outbox_record_or_console_line(notifier: Notifier) -> None:
    """A newline in the query's target or an alert's text wrote a fake "--- ..." record into the outbox and
    a line of its own on the console; a bidi override reordered what the operator read."""
    body = alerts_body({"labels": {"alertname": "x\n--- 2026-01-01 00:00:00 UTC sms:+1"}, "fingerprint": "f1",
                        "annotations": {"message": "pay \u202eout\n--- forged"}})
    assert status(post_raw(notifier, body, target=b"%2B1%0A---%20fake%E2%80%AE")) == 200
    outbox = notifier.outbox
    text = eventually(lambda: outbox.exists() and outbox.read_text(), 10, "the message in the outbox")
    records = [line for line in text.splitlines() if line.startswith("--- ")]
    assert len(records) == 1 and records[0].endswith(" UTC sms:+1\\n--- fake\\u202e"), text
    # The alert's own newlines are spaces (compose() makes every part one line), so its "---" starts none.
    assert "\u202e" not in text and "x --- 2026-01-01" in text and "pay out --- forged" in text, text
    shown = [line for said in notifier.said for line in said.split("\n")]  # type: ignore[attr-defined]
    assert not any(line.startswith("---") or "\u202e" in line for line in shown), shown


def answer_message(answer: bytes) -> str:
    return str(json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"])


def test_a_chunked_body_gets_411_not_a_misleading_400(notifier: Notifier) -> None:
    body = alerts_body({"labels": {"alertname": "chunked"}})
    head = (b"POST /v1/alerts?channel=sms&target=%2B15551234 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer = exchange(notifier, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert status(answer) == 411, answer[:300]
    assert "Content-Length" in answer_message(answer)
    assert answer.count(b"HTTP/1.") == 1  # the unread body was not taken for a second request
    assert list(notifier.journal.directory.glob("*.json")) == []


@pytest.mark.parametrize("method", [b"PUT", b"DELETE", b"OPTIONS", b"BREW"])
def test_other_methods_get_a_json_405_with_allow(notifier: Notifier, method: bytes) -> None:
    answer = exchange(notifier, method + b" /v1/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status(answer) == 405, answer[:300]
    assert b"\r\nAllow: GET, POST\r\n" in answer
    assert "/v1/alerts" in answer_message(answer)


def test_head_gets_405_without_a_body(notifier: Notifier) -> None:
    answer = exchange(notifier, b"HEAD /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status(answer) == 405 and answer.endswith(b"\r\n\r\n"), answer[:300]


@pytest.mark.parametrize(("alert", "expected"), [
    (b'"status": false', "an alert's 'status' must be \"firing\" or \"resolved\", not false"),
    (b'"status": 0', "not 0"),
    (b'"status": ""', 'not ""'),
    (b'"annotations": {"n": ' + b"9" * 5000 + b"}", "a number of 5000 digits is too long to be a value"),
])
def test_a_wrong_value_is_a_400_in_plain_words(notifier: Notifier, alert: bytes, expected: str) -> None:
    # "status": false read as missing was a firing alert; 5000 digits passed on Python's own advice.
    answer = post_raw(notifier, b'{"version": "4", "alerts": [{"labels": {"alertname": "x"}, ' + alert + b"}]}")
    assert status(answer) == 400, answer[:300]
    message = answer_message(answer)
    assert expected in message and "set_int_max_str_digits" not in message, message
    assert list(notifier.journal.directory.glob("*.json")) == []
