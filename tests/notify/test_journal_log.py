"""The journal's write-ahead log: a webhook request costs one fsync however many alerts it holds, delivery
records share theirs, and nothing acknowledged is lost when a power loss takes the entry files with it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel.notify import journal as journal_module
from hms_otel.notify.alert import AlertEvent, parse_webhook
from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.journal import DELIVERED, PENDING, Journal
from hms_otel.notify.server import Notifier
from hms_otel.stack.processes import free_port

from .test_delivery import TOKEN, webhook


def _alerts(count: int, prefix: str = "fp") -> dict[str, object]:
    one = json.loads(webhook())["alerts"][0]
    return {"alerts": [{**one, "fingerprint": f"{prefix}{index}"} for index in range(count)]}


def _events(count: int, prefix: str = "fp") -> list[AlertEvent]:
    return parse_webhook(_alerts(count, prefix))


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every fsync the process makes, by descriptor."""
    calls: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    yield calls


def test_one_webhook_request_costs_one_fsync_whatever_its_size(tmp_path: Path, fsyncs: list[int]) -> None:
    """An fsync per alert (two: the file and the folder) made 5 000 alerts take 18 s to answer, and Alertmanager
    times out and re-sends."""
    notifier = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=tmp_path / "state"),
                        say=lambda _text: None)
    assert notifier.accept("sms", "+15551234", _alerts(300)) == (300, 0)
    assert len(fsyncs) <= 2, f"{len(fsyncs)} fsyncs for one request"  # the log (and its folder, when new)
    fsyncs.clear()
    assert notifier.accept("sms", "+15551234", _alerts(300)) == (0, 300)  # Alertmanager's re-send: collapsed
    assert notifier.accept("sms", "+15551234", _alerts(200, "other")) == (200, 0)
    assert len(fsyncs) <= 2, f"{len(fsyncs)} fsyncs for two requests"
    assert len(notifier.journal.entries()) == 500
    assert len(notifier.journal.pending()) == 2  # one message per request's group ("..., +299 more")


def test_delivery_records_share_their_fsync_and_are_durable_at_close(tmp_path: Path, fsyncs: list[int]) -> None:
    journal = Journal(tmp_path / "journal")
    entries = [entry for entry in journal.add_all("sms", "+1", _events(100)) if entry is not None]
    fsyncs.clear()
    for entry in entries:
        entry.state = DELIVERED
        journal.save(entry, durable=False)
    journal.close()
    assert len(fsyncs) < 10, f"{len(fsyncs)} fsyncs for 100 delivery records"
    assert {entry.state for entry in _after_power_loss(tmp_path / "journal")} == {DELIVERED}


def _after_power_loss(directory: Path) -> list[journal_module.Entry]:
    """What a restarted notifier reads when a power loss took every entry file's unsynced content: here all
    of them are missing, empty, cut or an older version; only the log was fsynced."""
    files = sorted(directory.glob("*.json"))
    for index, path in enumerate(files):
        if index % 3 == 0:
            path.unlink()
        elif index % 3 == 1:
            path.write_bytes(b"")
        else:
            path.write_bytes(path.read_bytes()[:40])
    journal = Journal(directory, on_unreadable=lambda path, why: pytest.fail(f"{path} set aside: {why}"))
    assert journal.recover() == len(files)
    found = journal.entries()
    journal.close()
    return found


def test_acknowledged_alerts_survive_a_power_loss_that_takes_their_files(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    added = journal.add_all("sms", "+1", _events(30))
    found = _after_power_loss(tmp_path / "journal")
    assert sorted(entry.key for entry in found) == sorted(entry.key for entry in added if entry is not None)
    assert {entry.state for entry in found} == {PENDING}


def test_a_file_older_than_the_log_is_put_back_to_the_log_s_version(tmp_path: Path) -> None:
    """A message delivered, then journaled again after the dedup window (a new delivery under the same key):
    a power loss that leaves the old, delivered file must not hide the new, pending one."""
    directory = tmp_path / "journal"
    journal = Journal(directory, dedup_window_s=0.0)
    [first] = journal.add_all("sms", "+1", _events(1))
    assert first is not None
    first.state, first.delivered_at = DELIVERED, 1.0
    journal.save(first)
    old = journal._path(first.key).read_bytes()
    [again] = journal.add_all("sms", "+1", _events(1))
    assert again is not None and again.revision > first.revision
    journal._path(first.key).write_bytes(old)  # the new file's content was not on disk yet
    recovered = Journal(directory)
    assert recovered.recover() == 1
    assert [entry.state for entry in recovered.entries()] == [PENDING]


def test_a_torn_last_record_is_skipped_and_the_next_record_starts_a_line_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "journal"
    journal = Journal(directory)
    [kept] = journal.add_all("sms", "+1", _events(1, "kept"))
    real = os.write
    torn = {"once": True}

    def full_disk(fd: int, data: object) -> int:
        if torn.pop("once", False):
            real(fd, bytes(memoryview(data))[:25])  # type: ignore[arg-type]
            raise OSError(28, "No space left on device")
        return real(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError):
        journal.add_all("sms", "+1", _events(1, "refused"))
    [later] = journal.add_all("sms", "+1", _events(1, "later"))
    monkeypatch.setattr(os, "write", real)
    assert kept is not None and later is not None
    [log] = directory.glob("log-*.jsonl")
    with log.open("ab") as stream:
        stream.write(b'{"key": "' + b"a" * 32 + b'", "cut sho')  # the power went mid-append
    for path in directory.glob("*.json"):
        path.unlink()
    recovered = Journal(directory)
    assert recovered.recover() == 2
    assert sorted(entry.key for entry in recovered.entries()) == sorted([kept.key, later.key])


def test_a_checkpoint_removes_the_log_once_the_files_are_durable(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "_CHECKPOINT_BYTES", 10_000)
    directory = tmp_path / "journal"
    journal = Journal(directory)
    for batch in range(5):
        journal.add_all("sms", "+1", _events(10, f"b{batch}-"))
    journal._flush()  # what the background timer runs
    assert list(directory.glob("log-*.jsonl")) == []
    journal.add_all("sms", "+1", _events(1, "after"))
    assert len(list(directory.glob("log-*.jsonl"))) == 1
    journal.close()
    # A restart takes over what the last run's log covers, and removes it after its own checkpoint.
    recovered = Journal(directory)
    assert recovered.recover() == 0
    recovered._flush()
    assert list(directory.glob("log-*.jsonl")) == []
    assert len(recovered.entries()) == 51


def test_a_notifier_puts_back_what_a_power_loss_took_and_says_so(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Journal(state / "journal").add_all("sms", "+15551234", _events(3))
    for path in (state / "journal").glob("*.json"):
        path.write_bytes(b"\x00" * 64)  # what some file systems leave of an unsynced file
    said: list[str] = []
    notifier = Notifier(NotifierConfig(port=free_port(), token=TOKEN, state_dir=state), say=said.append)
    notifier.serve()
    try:
        assert any("3 journal files put back" in line for line in said), said
        assert not any("cannot be read" in line for line in said), said
    finally:
        notifier.close()
