"""A damaged write-ahead log, or a second notifier on the same journal: the notifier starts (or refuses with
one line naming the file), never hangs, and never loses a good entry."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path

import pytest

from hms_otel.notify import journal as journal_module
from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.journal import PENDING, Journal
from hms_otel.notify.server import run
from hms_otel.stack.processes import free_port

from .test_delivery import TOKEN
from .test_journal_log import _events


def _one_entry(directory: Path) -> tuple[Journal, dict[str, object]]:
    journal = Journal(directory)
    [entry] = journal.add_all("sms", "+1", _events(1))
    assert entry is not None
    return journal, json.loads(journal._path(entry.key).read_text())


@pytest.mark.parametrize("damage", [
    {"attempts": "x"}, {"event": {"labels": 3}}, {"channel": None}, {"state": "gone"}, {"created": "yesterday"},
])
def test_a_log_record_that_is_no_entry_never_replaces_a_good_file(tmp_path: Path,
                                                                  damage: dict[str, object]) -> None:
    """It was put back over the good file for its higher revision, then set aside: that message was not sent."""
    directory = tmp_path / "journal"
    _journal, good = _one_entry(directory)
    damaged = {**good, **damage, "revision": 10**12}
    (directory / "log-99999999999999999999-1.jsonl").write_text(json.dumps(damaged) + "\n")
    recovered = Journal(directory)
    recovered.recover()
    try:
        assert recovered.unreadable() == []
        assert [(entry.key, entry.state, entry.revision) for entry in recovered.entries()] == [
            (good["key"], PENDING, good["revision"])]
    finally:
        recovered.close()


def test_a_damaged_newest_record_leaves_the_older_good_one_to_put_back(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    _journal, good = _one_entry(directory)
    with next(directory.glob("log-*.jsonl")).open("a") as log:
        log.write(json.dumps({**good, "history": "x", "revision": 7}) + "\n")
    Path(directory / f"{good['key']}.json").unlink()  # a power loss took the file
    recovered = Journal(directory)
    assert recovered.recover() == 1
    try:
        assert [entry.key for entry in recovered.pending()] == [good["key"]]
    finally:
        recovered.close()


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_log_segment_that_is_no_regular_file_is_refused_naming_it(tmp_path: Path, kind: str) -> None:
    """A FIFO named like a segment hung the notifier's start for good (a read that never ends)."""
    directory = tmp_path / "journal"
    directory.mkdir()
    segment = directory / "log-00000000000000000001-1.jsonl"
    os.mkfifo(segment) if kind == "fifo" else segment.mkdir()
    outcome: list[BaseException | None] = []

    def recover() -> None:
        try:
            Journal(directory).recover()
            outcome.append(None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=recover, daemon=True)
    thread.start()
    thread.join(timeout=20)
    if thread.is_alive() and kind == "fifo":  # let the stuck reader go: a writer that closes ends its read
        with contextlib.suppress(OSError):
            os.close(os.open(segment, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=5)
    assert outcome, "recover() did not return"
    [error] = outcome
    assert isinstance(error, OSError) and error.filename == str(segment), error
    assert "not a regular file" in str(error.strerror)


def test_a_second_writer_of_the_same_journal_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    """It took the first one's live log segment for a crashed one's and removed it, so what the first
    acknowledged afterwards was no longer durable; and both sent every pending message."""
    directory = tmp_path / "journal"
    first = Journal(directory)
    first.recover()
    first.add_all("sms", "+1", _events(2))
    with pytest.raises(journal_module.JournalInUse, match=rf"pid {os.getpid()}.*{directory}"):
        Journal(directory).recover()
    assert len(list(directory.glob("log-*.jsonl"))) == 1  # the first one's log is still there
    Journal(directory).entries()  # a reader (`hms-ops up`) is not refused
    first.close()
    again = Journal(directory)
    again.recover()
    again.close()


def test_a_second_notifier_on_the_same_state_folder_exits_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    first = Journal(state / "journal")
    first.recover()
    # Bounded: a notifier that is not refused serves until SIGTERM (run() installs the handler that stops it).
    stopper = threading.Timer(20, os.kill, (os.getpid(), signal.SIGTERM))
    stopper.start()
    try:
        with pytest.raises(SystemExit) as exited:
            run(NotifierConfig(port=free_port(), token=TOKEN, state_dir=state))
    finally:
        stopper.cancel()
        first.close()
    assert exited.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "another notifier" in lines[0] and str(state / "journal") in lines[0], lines


def test_a_read_only_journal_still_lets_the_notifier_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started on a read-only journal, the notifier answers 503 until it can be written; the writer's lock
    file, which cannot be made there, must not stop it."""
    directory = tmp_path / "journal"
    directory.mkdir()
    real = Path.open

    def read_only(self: Path, mode: str = "r", *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.parent == directory and mode != "r":
            raise OSError(30, "Read-only file system", str(self))
        return real(self, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", read_only)
    journal = Journal(directory)
    assert journal.recover() == 0
    journal.close()


def test_a_full_disk_while_putting_back_names_the_journal_not_the_socket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """It said "cannot listen on 127.0.0.1:PORT: No space left on device"."""
    state = tmp_path / "state"
    journal, good = _one_entry(state / "journal")
    journal._path(str(good["key"])).unlink()  # a power loss took it: recovery must write it back

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # what a failed write() raises: no file name

    monkeypatch.setattr(journal_module, "_replace", full)
    stopper = threading.Timer(20, os.kill, (os.getpid(), signal.SIGTERM))
    stopper.start()
    try:
        with pytest.raises(SystemExit):
            run(NotifierConfig(port=free_port(), token=TOKEN, state_dir=state))
    finally:
        stopper.cancel()
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"notifier: cannot use {state / 'journal'}: No space left on device"
