"""Run one server process: free loopback ports, a log file, readiness polling, stop by PID.

    with ManagedProcess("victorialogs", [binary, f"-httpListenAddr=127.0.0.1:{port}"],
                        log_path=work / "victorialogs.log", ready_url=f"http://127.0.0.1:{port}/health") as logs:
        ...

Every failure message names the process and ends with the tail of its log,
because that is where the reason is (a bad flag, a taken port, a bad config).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from hms_otel.http import ok as http_ok

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class ProcessError(RuntimeError):
    """A managed process failed to start, exited early or did not become ready."""


class PortInUse(ProcessError):
    """A fixed port is already taken by another program."""

    def __init__(self, port: int, what: str, how_to_change: str = "") -> None:
        hint = f"; stop that program or change it with {how_to_change}" if how_to_change else ""
        super().__init__(f"port {port} ({what}) on {HOST} is already in use{hint}")
        self.port = port


def free_port(avoid: Collection[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that is not in ``avoid``.

    ``avoid`` holds ports already chosen but not yet bound: the OS may hand
    out a port again as soon as the probing socket has closed.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def check_port_free(port: int, what: str, how_to_change: str = "") -> None:
    """Raise :class:`PortInUse` if ``port`` is taken (bind test, as the server will bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise PortInUse(port, what, how_to_change) from None


#: How much of a log's end is read for its last lines: a server's log may have grown for months.
_TAIL_BYTES = 64 * 1024


def log_tail(path: Path, lines: int = 30, start: int = 0) -> str:
    """The last ``lines`` lines of ``path`` from byte ``start`` on (where a launch began writing, so an
    earlier run's lines are not shown as this one's)."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(start, size - _TAIL_BYTES))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


def _die_with_parent(argv: list[str]) -> tuple[list[str], Callable[[], None] | None]:
    """On Linux, have the kernel SIGTERM the server if we die without stopping it
    (``kill -9`` of ``hms-ops up``, a crashed test run), so no server outlives us.

    Returns the argv to run and the ``preexec_fn`` to pass. util-linux's
    ``setpriv --pdeathsig`` (essential on Debian) arms the signal and execs the
    server, so the launch stays a vfork; a Python ``preexec_fn`` makes
    subprocess fork this whole interpreter instead (about 4.5 ms per server
    here, on the path of `hms-ops up` to ready). Without setpriv, the
    ``preexec_fn`` arms it.

    The signal follows the *thread* that started the process, so it is only
    armed for processes started from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return argv, None
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "TERM", "--", *argv], None
    prctl = _prctl()
    if prctl is None:
        return argv, None
    return argv, functools.partial(_arm_parent_death_signal, prctl, os.getpid())


def _prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _arm_parent_death_signal(prctl: Callable[..., int], parent: int) -> None:
    """In a new child: SIGTERM it when ``parent`` dies; exit at once if that already happened."""
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died between fork and prctl
        os._exit(1)


@functools.cache
def _setpriv() -> str | None:
    for folder in ("/usr/bin", "/bin"):
        path = os.path.join(folder, "setpriv")
        if os.access(path, os.X_OK):
            return path
    return None


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot, from /proc), or None if it does not exist.

    A PID plus its start time names one process for good: a PID reused by a
    later process has another start time, so it is never mistaken for ours.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); fields are counted after the command name, which may hold spaces and ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited; only its exit status is left to collect
        return None
    return int(fields[19])


def is_same_process(pid: int, start_ticks: int | None) -> bool:
    """True while the process ``pid`` that started at ``start_ticks`` is still running."""
    return start_ticks is not None and process_start_ticks(pid) == start_ticks


class ForkedProcess:
    """A server running in a forked copy of this interpreter, with the part of ``subprocess.Popen``'s
    interface that :class:`ManagedProcess` uses (``pid``, ``returncode``, ``poll``, ``wait``)."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # collected elsewhere: it has exited, its status is gone
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode


def may_fork() -> bool:
    """Whether a server may run in a fork of this interpreter: on Linux, while no other thread runs
    (a fork copies only the calling thread, and a lock another thread held would stay locked)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def _fork_server(name: str, target: Callable[[], None], log: IO[bytes], cwd: Path | None,
                 env: dict[str, str]) -> ForkedProcess:
    """Run ``target`` in a forked child set up as ``subprocess.Popen`` sets up a server: its own
    session, stdin from /dev/null, stdout and stderr to ``log``, ``env`` and ``cwd`` applied,
    SIGTERM when we die. It keeps none of our files open (a lock, the pipe `up --detach` waits on)."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedProcess(pid, [f"{name} (forked from PID {parent})"])
    code = 1
    try:
        os.setsid()
        _release_inherited_files(keep=log.fileno())
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        # New streams on the new 1 and 2, line-buffered as PYTHONUNBUFFERED would make them: ours may
        # not write to those descriptors (when embedded, under a test runner).
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        prctl = _prctl()
        if prctl is not None:
            _arm_parent_death_signal(prctl, parent)
        with contextlib.suppress(OSError):  # `ps -e` and `top` show the server's name, not ours
            Path("/proc/self/comm").write_text(name[:15])
        gc.enable()  # the parent may run with it off (hms-ops up, until ready)
        target()
        code = 0
    except SystemExit as stop:
        if isinstance(stop.code, int) or stop.code is None:
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _release_inherited_files(keep: int) -> None:
    """Point every inherited descriptor above 2 (but ``keep``) at /dev/null.

    Not closed: Python objects of the parent still hold those numbers, and
    one closed later would close whatever file the server had opened under
    that number by then.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd not in (keep, null):
            os.dup2(null, fd)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; return whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


_PROBE_INTERVAL_S = 0.005


def wait_all_ready(processes: Sequence[ManagedProcess], timeout: float) -> None:
    """Wait until every process is ready, probing all of them in one loop.

    Probes (one connect and one short HTTP/1.0 GET on loopback, refused at
    once while nothing listens) run every 5 ms, so a server is seen ready
    within milliseconds of being so. A process that exits
    meanwhile, or one not ready in time, raises :class:`ProcessError` with the
    last lines of its log (the caller stops the others).
    """
    pending = list(processes)
    deadline = time.monotonic() + timeout
    while pending:
        for process in list(pending):
            if not process.running:
                raise process.exited_error()
            if process.is_ready():
                pending.remove(process)
        if not pending:
            return
        if time.monotonic() >= deadline:
            late = pending[0]
            late.stop()
            raise ProcessError(
                f"{late.name} was not ready at {late.ready_url} within {timeout:.0f} s; "
                f"last lines of {late.log_path}:\n{late.log_tail()}"
            )
        time.sleep(_PROBE_INTERVAL_S)


class ManagedProcess:
    """One server process with its own log file; a context manager that always stops it.

    ``ready_url`` is polled until it answers 2xx, at most ``ready_timeout``
    seconds. Stopping sends SIGTERM to the process group, then SIGKILL after
    ``grace`` seconds.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        ready_url: str | None = None,
        ready_timeout: float = 60.0,
        grace: float = 10.0,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        ready_headers: dict[str, str] | None = None,
        fork_target: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.ready_headers = ready_headers
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.ready_url = ready_url
        self.ready_timeout = ready_timeout
        self.grace = grace
        self.cwd = cwd
        self.env = env
        self.fork_target = fork_target
        self._proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._log_start = 0  # where the last launch began writing its log

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def start_ticks(self) -> int | None:
        """The process's start time (see :func:`process_start_ticks`), recorded with its PID."""
        return process_start_ticks(self._proc.pid) if self._proc else None

    def start(self) -> ManagedProcess:
        """Launch and, with a ``ready_url``, wait until it answers."""
        self.launch()
        if self.ready_url:
            self.wait_ready()
        return self

    def launch(self, fork: bool = False) -> None:
        """Start the process without waiting for readiness (see :func:`wait_all_ready`).

        With ``fork`` and a ``fork_target`` (a Python server), the target runs in
        a fork of this interpreter where :func:`may_fork` allows it: the server
        skips Python's start-up and the imports this process already did (the
        notifier is ready about 60 ms sooner on a small machine). Otherwise the
        ``argv`` runs, which starts the same server.
        """
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        forked = fork and self.fork_target is not None and may_fork()
        how = f"{self.name} in a fork of PID {os.getpid()}" if forked else " ".join(self.argv)
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()
            log.write(f"\n=== {time.strftime('%H:%M:%S')} starting: {how}\n".encode())
            log.flush()
            if forked:
                assert self.fork_target is not None
                try:
                    self._proc = _fork_server(self.name, self.fork_target, log, self.cwd, self.env or {})
                except OSError as error:  # no memory or process slot left: what would stop the argv too
                    raise ProcessError(f"{self.name}: cannot fork to run it: {error.strerror or error}") from None
                return
            argv, arm = _die_with_parent(self.argv)
            try:
                # Own session: a Ctrl-C in the terminal reaches us, not the servers, so we stop them in order.
                self._proc = subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.cwd,
                    env={**os.environ, **(self.env or {})},
                    start_new_session=True,
                    preexec_fn=arm,
                )
            except OSError as error:
                raise ProcessError(f"{self.name}: cannot run {self.argv[0]}: {error.strerror or error}") from None

    def is_ready(self) -> bool:
        """One readiness probe: the ready URL answers 2xx (a process without one is ready once running)."""
        url = self.ready_url
        return self.running and (url is None or http_ok(url, timeout=0.5, headers=self.ready_headers))

    def exited_error(self) -> ProcessError:
        code = self._proc.returncode if self._proc else None
        return ProcessError(
            f"{self.name} exited with code {code} while starting; last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        """The last lines this launch wrote to the log."""
        return log_tail(self.log_path, lines, start=self._log_start)

    def wait_ready(self) -> None:
        wait_all_ready([self], self.ready_timeout)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process (e.g. SIGHUP to reload)."""
        if self.running and self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL, no grace: for crash tests."""
        if self._proc is not None and self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace period. Safe to call twice."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
