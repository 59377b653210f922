"""Journal files the notifier did not write as it left them (edited by hand, damaged, from another version):
the notifier starts, sends every message it can read, and names every file it cannot."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from hms_otel.notify.alert import parse_webhook
from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.journal import _FIELD_TYPES, Entry, Journal
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from ..support import eventually
from .test_delivery import TOKEN, webhook

Edit = Callable[[dict[str, Any]], object]


def _journaled(journal: Journal, fingerprint: str) -> Path:
    entry = journal.add("sms", "+15551234", parse_webhook(json.loads(webhook(fingerprint=fingerprint)))[0])
    assert entry is not None
    return journal.directory / f"{entry.key}.json"


def _edit(path: Path, change: Edit) -> None:
    data = json.loads(path.read_text())
    replaced = change(data)
    path.write_text(json.dumps(data if replaced is None else replaced))


def _run(tmp_path: Path, arrange: Callable[[Journal], None]) -> tuple[list[str], Notifier]:
    """A notifier without an SMS provider (messages are printed) over a journal ``arrange`` prepared."""
    state = tmp_path / "state"
    arrange(Journal(state / "journal"))
    said: list[str] = []
    notifier = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=state), say=said.append)
    notifier.serve()
    try:
        eventually(lambda: notifier.dispatcher.idle() and any("not sent: no provider" in line for line in said),
                   20, "the readable message to be printed")
    finally:
        notifier.close()
    return said, notifier


def _set(name: str, value: object) -> Edit:
    return lambda data: data.__setitem__(name, value)


BROKEN: dict[str, Edit] = {
    "created is text": _set("created", "yesterday"),
    "created is NaN": _set("created", float("nan")),
    "attempts is a float": _set("attempts", 1.5),
    "attempts is true": _set("attempts", True),
    "next_at is null": _set("next_at", None),
    "delivered_at is a list": _set("delivered_at", []),
    "state is unknown": _set("state", "sending"),
    "history is an object": _set("history", {}),
    "no event": lambda data: data.pop("event"),
    "event without labels": lambda data: data["event"].pop("labels"),
    "a label value is a number": lambda data: data["event"]["labels"].__setitem__("job", 7),
    "key is not the file name": _set("key", "0" * 32),
    "a list, not an object": lambda data: [data],
}


@pytest.mark.parametrize("damage", list(BROKEN), ids=list(BROKEN))
def test_a_broken_journal_file_is_set_aside_and_named_and_the_others_are_sent(tmp_path: Path, damage: str) -> None:
    broken: list[Path] = []

    def arrange(journal: Journal) -> None:
        _journaled(journal, "good")
        broken.append(_journaled(journal, "broken"))
        _edit(broken[0], BROKEN[damage])

    said, _ = _run(tmp_path, arrange)
    aside = broken[0].with_suffix(".unreadable")
    assert aside.is_file() and not broken[0].exists()
    named = [line for line in said if str(aside) in line]
    assert len(named) == 1 and "cannot be read" in named[0], said
    assert sum("not sent: no provider" in line for line in said) == 1, said


def test_bytes_that_are_not_utf8_or_not_json_or_too_deep_are_set_aside(tmp_path: Path) -> None:
    files: list[Path] = []
    contents = (b"\xff\xfe{", b'{"key": ', b"[" * 100_000 + b"]" * 100_000)

    def arrange(journal: Journal) -> None:
        _journaled(journal, "good")
        for letter, raw in zip("abc", contents, strict=True):
            files.append(journal.directory / f"{letter * 32}.json")
            files[-1].write_bytes(raw)

    said, _ = _run(tmp_path, arrange)
    for path in files:
        assert path.with_suffix(".unreadable").is_file()
        assert any(str(path.with_suffix(".unreadable")) in line for line in said), said


def test_fields_of_a_newer_version_are_ignored_and_the_message_is_sent(tmp_path: Path) -> None:
    said, _ = _run(tmp_path, lambda journal: _edit(_journaled(journal, "newer"), _set("priority", "high")))
    assert not any("cannot be read" in line for line in said), said


def test_a_stored_message_of_the_wrong_shape_is_composed_again(tmp_path: Path) -> None:
    def arrange(journal: Journal) -> None:
        _edit(_journaled(journal, "odd"), _set("message", {"headline": 3}))

    said, _ = _run(tmp_path, arrange)
    printed = next(line for line in said if "not sent: no provider" in line)
    assert "[HMS-OPS] ALERT – payment_latency_ms" in printed


def test_files_set_aside_earlier_are_counted_at_start(tmp_path: Path) -> None:
    def arrange(journal: Journal) -> None:
        _journaled(journal, "good")
        (journal.directory / ("c" * 32 + ".unreadable")).write_text("{")

    said, _ = _run(tmp_path, arrange)
    assert any("1 journal file set aside earlier as unreadable" in line for line in said), said


def test_every_field_of_an_entry_has_its_json_types() -> None:
    assert set(_FIELD_TYPES) == {field.name for field in fields(Entry)}


@pytest.mark.parametrize("attempts", [2000, 10**30])
def test_an_attempt_count_out_of_range_is_repaired_not_a_hot_loop(tmp_path: Path, attempts: int) -> None:
    """``attempts: 2000`` made ``2.0 ** attempts`` raise in the backoff: the entry was due again at once, and a
    failing provider got thousands of requests a second for one message."""
    from hms_otel.notify.config import SmsSettings
    from hms_otel.notify.delivery import Backoff

    from .standins import Answer, StandIn

    state = tmp_path / "state"
    _edit(_journaled(Journal(state / "journal"), "many"), _set("attempts", attempts))
    with StandIn(Answer(503, b"busy")) as twilio:
        notifier = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=state,
                                           sms=SmsSettings("AC1", "secret", sender="+15550100", base_url=twilio.url)),
                            say=lambda _text: None, backoff=Backoff(first_s=1.0, cap_s=2.0))
        notifier.serve()
        try:
            eventually(lambda: twilio.received, 10, "the first attempt")
            import time
            time.sleep(1.5)
        finally:
            notifier.close()
        assert len(twilio.received) <= 5, f"{len(twilio.received)} requests in 1.5 s for one message"
    [entry] = Journal(state / "journal").entries()
    assert 0 < entry.attempts <= 1_000_010


def test_numbers_out_of_range_are_repaired_when_read_and_noted() -> None:
    from hms_otel.notify.journal import entry_from_json

    entry = Entry("k", "sms", "+1", json.loads(json.dumps({})), created=0.0)
    data = {**entry.__dict__, "event": {"status": "firing", "name": "a", "fingerprint": "", "starts_at": "",
                                       "ends_at": "", "labels": {}, "annotations": {}},
            "attempts": -5, "created": 1e300}
    repaired = entry_from_json(data)
    assert repaired.attempts == 0 and repaired.created < 1e12
    assert len(repaired.history) == 2, repaired.history


def test_a_journal_whose_old_entries_cannot_be_removed_still_starts(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only journal holding an entry over a week old stopped the start, said as "cannot listen on ...:
    Operation not permitted" though the port was free."""
    import errno

    def read_only(self: Journal, older_than_s: float) -> int:
        raise PermissionError(errno.EPERM, "Operation not permitted", str(self.directory / ("a" * 32 + ".json")))

    monkeypatch.setattr(Journal, "prune", read_only)
    said, notifier = _run(tmp_path, lambda journal: _journaled(journal, "good"))
    [line] = [line for line in said if "not removed" in line]
    assert str(notifier.journal.directory) in line and "Operation not permitted" in line, said


def test_a_start_failure_on_a_file_names_the_file_not_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from hms_otel.notify import server

    def fails(self: Notifier) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "state" / "journal"))

    monkeypatch.setattr(server.Notifier, "serve", fails)
    with pytest.raises(SystemExit) as exited:
        server.run(NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state"))
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"cannot use {tmp_path / 'state' / 'journal'}: Permission denied" in err and "listen" not in err, err
