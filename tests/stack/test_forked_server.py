"""A Python server run in a fork of the supervisor (``ManagedProcess(fork_target=...)``, ``launch(fork=True)``).

`hms-ops up` runs its notifier this way. The fork must look to the server, and
to whoever stops it, like the process its ``argv`` would have started: own
session, log as stdout and stderr, ``env`` and ``cwd`` applied, SIGTERM stops
it, its exit code is reported, and it holds none of the supervisor's files.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hms_otel.stack import processes
from hms_otel.stack.processes import ManagedProcess, ProcessError, free_port, wait_until
from hms_otel.stack.services import Notifier

#: An argv that cannot run: a test passes only if the fork, not the argv, started the server.
NOT_RUN = ["/nonexistent/the-argv-must-not-run"]


@pytest.fixture(autouse=True)
def _fork_although_other_tests_left_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Earlier tests in this process may leave threads behind (SDK readers, servers). The targets here
    # take no lock such a thread could hold, so forking is safe for them; `up`'s supervisor has no threads.
    monkeypatch.setattr(processes, "may_fork", lambda: True)


def _forked(tmp_path: Path, target: Callable[[], None], **options: object) -> ManagedProcess:
    process = ManagedProcess("pyserver", NOT_RUN, log_path=tmp_path / "pyserver.log", fork_target=target,
                             grace=5, **options)  # type: ignore[arg-type]
    process.launch(fork=True)
    return process


def _log_when(process: ManagedProcess, text: str) -> str:
    assert wait_until(lambda: text in process.log_path.read_text(), timeout=20, interval=0.05), (
        process.log_path.read_text())
    return process.log_path.read_text()


def _ended(process: ManagedProcess) -> int | None:
    assert wait_until(lambda: not process.running, timeout=20, interval=0.05)
    return process.returncode


def test_a_forked_server_runs_as_its_argv_would_and_stops_on_sigterm(tmp_path: Path) -> None:
    def serve() -> None:
        print(f"cwd={os.getcwd()} value={os.environ['HMS_TEST_VALUE']} own-session={os.getsid(0) == os.getpid()} "
              f"stdin={os.readlink('/proc/self/fd/0')}", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep(60)

    workdir = tmp_path / "work"
    workdir.mkdir()
    process = _forked(tmp_path, serve, cwd=workdir, env={"HMS_TEST_VALUE": "42"})
    try:
        text = _log_when(process, "to stderr")
        assert f"starting: pyserver in a fork of PID {os.getpid()}" in text
        assert f"cwd={workdir} value=42 own-session=True stdin=/dev/null" in text
        assert Path(f"/proc/{process.pid}/comm").read_text().strip() == "pyserver"  # what ps -e and top show
        assert process.running and process.start_ticks is not None
        assert "HMS_TEST_VALUE" not in os.environ  # the environment changed in the child only
    finally:
        process.stop()
    assert process.returncode == -signal.SIGTERM


def test_a_forked_server_holds_none_of_the_supervisors_files(tmp_path: Path) -> None:
    """`up --detach` waits for EOF on a pipe, and the next `up` for the state lock: a fork keeping
    either open would hang the one and block the other for as long as the server runs."""
    read_end, write_end = os.pipe()
    lock_path = tmp_path / "hms-ops.lock"
    lock = lock_path.open("a")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    process = _forked(tmp_path, lambda: time.sleep(60))
    try:
        os.close(write_end)
        lock.close()
        assert select.select([read_end], [], [], 20)[0], "the fork still holds the pipe's write end"
        assert os.read(read_end, 1) == b""
        # The fork lets go of its inherited files one by one, so the lock may follow the pipe a moment later.
        assert wait_until(lambda: _can_lock(lock_path), timeout=20, interval=0.01), "the fork still holds the lock"
        assert process.running
    finally:
        os.close(read_end)
        process.stop()


def _can_lock(path: Path) -> bool:
    with path.open("a") as again:
        try:
            fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@pytest.mark.parametrize(
    ("end", "code", "in_log"),
    [
        (lambda: sys.exit(3), 3, None),
        (lambda: sys.exit("Error: the notifier needs a shared token"), 1, "Error: the notifier needs a shared token"),
        (lambda: (_ for _ in ()).throw(ValueError("boom")), 1, "ValueError: boom"),
        (lambda: None, 0, None),
    ],
    ids=["exit-code", "exit-message", "exception", "return"],
)
def test_a_forked_server_exits_with_the_code_its_argv_would_have(
    tmp_path: Path, end: Callable[[], None], code: int, in_log: str | None
) -> None:
    process = _forked(tmp_path, end)
    assert _ended(process) == code
    if in_log:
        assert in_log in process.log_path.read_text()


def test_a_fork_that_exits_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess("pyserver", NOT_RUN, log_path=tmp_path / "pyserver.log", ready_timeout=20,
                             ready_url=f"http://127.0.0.1:{free_port()}/", fork_target=lambda: sys.exit("bad setting"))
    process.launch(fork=True)
    with pytest.raises(ProcessError, match=r"(?s)pyserver exited with code 1 while starting.*bad setting"):
        processes.wait_all_ready([process], timeout=20)


def test_the_stacks_notifier_in_a_fork_says_what_is_wrong_with_its_config(tmp_path: Path) -> None:
    notifier = Notifier(tmp_path / "notifier", free_port())
    process = notifier.prepare()
    notifier.config_path.write_text('{"listen": "127.0.0.1:99999"}')
    process.launch(fork=True)
    assert _ended(process) == 1
    assert "listen '127.0.0.1:99999' must be HOST:PORT" in process.log_path.read_text()


def test_without_a_fork_target_or_with_other_threads_the_argv_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the real may_fork
    argv = [sys.executable, "-c", "print('from the argv')"]
    plain = ManagedProcess("plain", argv, log_path=tmp_path / "plain.log")
    plain.launch(fork=True)
    assert _ended(plain) == 0

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not processes.may_fork()
        threaded = ManagedProcess("threaded", argv, log_path=tmp_path / "threaded.log",
                                  fork_target=lambda: print("from the fork"))
        threaded.launch(fork=True)
        assert _ended(threaded) == 0
    finally:
        stop.set()
        other.join()
    for process in (plain, threaded):
        assert "from the argv" in process.log_path.read_text()
        assert "from the fork" not in process.log_path.read_text()


def test_a_fork_the_system_refuses_is_a_process_error_naming_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    process = ManagedProcess("pyserver", NOT_RUN, log_path=tmp_path / "pyserver.log", fork_target=lambda: None)
    with pytest.raises(ProcessError, match=r"^pyserver: cannot fork to run it: .*Resource temporarily unavailable"):
        process.launch(fork=True)
    assert not process.running
