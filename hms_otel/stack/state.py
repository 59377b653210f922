"""The state folder of ``hms-ops up`` (``.hms-ops/``): who is running, where, and how to stop exactly them.

Layout::

    .hms-ops/
      stack.json                 PIDs and start times of the supervisor and every component, URLs
      hms-ops.lock               held (flock) by the supervisor while it runs
      hms-ops.log                the supervisor's console when detached (alert texts, reloads)
      alerts.json                what the last alert build did: loaded, or why not (shown by `hms-ops status`)
      <component>/<component>.log, its config and data

A process is named by its PID *and* its start time (:func:`~hms_otel.stack.processes.process_start_ticks`),
so ``hms-ops down`` never signals an unrelated process that later got the same PID.
"""

# No `from __future__ import annotations`: see "start-up" in hms_otel/stack/up.py.

import contextlib
import fcntl
import json
import os
import signal
import time
import urllib.parse
from pathlib import Path
from typing import IO, Any, NamedTuple

from hms_otel.errors import HmsError
from hms_otel.stack.processes import is_same_process, process_start_ticks
from hms_otel.terminal import safe_name, shell_word

STATE_FILE = "stack.json"
LOCK_FILE = "hms-ops.lock"
CONSOLE_LOG = "hms-ops.log"
ALERTS_FILE = "alerts.json"
DEFAULT_STATE_DIR = ".hms-ops"


def state_dir(option: Path | None = None) -> Path:
    """``--state DIR``, else ``$HMS_OPS_STATE``, else ``./.hms-ops``."""
    return Path(option or os.environ.get("HMS_OPS_STATE") or DEFAULT_STATE_DIR)


def chosen_by(option: Path | None) -> str:
    """The setting that chose the state folder (see :func:`state_dir`), as a message names it."""
    if option:
        return "--state"
    return "HMS_OPS_STATE" if os.environ.get("HMS_OPS_STATE") else "the default ./.hms-ops"


class StateFolderError(HmsError):
    """The state folder cannot be a folder: it, or a folder above it, is a file."""


def check_folder(directory: Path, setting: str) -> None:
    """Raise :class:`StateFolderError` when ``directory``, or the nearest existing path above it, is no folder.

    Creating it would fail with "File exists" or "Not a directory" naming neither the state folder nor the
    setting that chose it; reading it would find "no stack" where the user gave a file.
    """
    fix = "give --state or HMS_OPS_STATE a folder (one that does not exist yet is created)"
    for path in (directory, *directory.parents):
        if path.is_dir():
            return
        if os.path.lexists(path):
            kind = "a file" if path.is_file() else "not a folder"  # or a link to nowhere
            where = f"is {kind}" if path == directory else f"cannot be created: {path} is {kind}"
            raise StateFolderError(f"the state folder {directory} (from {setting}) {where}; {fix}")


def resolve_folder(directory: Path, setting: str) -> Path:
    """``directory`` with its links resolved; :class:`StateFolderError` naming it and ``setting`` if it cannot be.

    ``Path.resolve`` raises RuntimeError on a link that loops (``ln -s a a``): it ended as "internal error".
    """
    try:
        return directory.resolve()
    except (RuntimeError, OSError) as error:
        why = "is a link that loops" if isinstance(error, RuntimeError) else f"cannot be resolved ({error})"
        raise StateFolderError(f"the state folder {directory} (from {setting}) {why}; give --state or HMS_OPS_STATE "
                               "a folder (one that does not exist yet is created)") from None


def checked_folder(directory: Path, setting: str) -> Path:
    """``directory`` resolved, once :func:`resolve_folder` and :func:`check_folder` found it usable."""
    resolved = resolve_folder(directory, setting)
    check_folder(resolved, setting)
    return resolved


class ProcessRecord(NamedTuple):  # named tuples, not dataclasses: see "start-up" in hms_otel/stack/up.py
    """One process the stack started (or the supervisor itself)."""

    name: str
    pid: int
    start_ticks: int | None
    url: str = ""
    health_url: str = ""
    log: str = ""
    #: e.g. the basic-auth header of Alertmanager's API (the state file is readable by its owner only)
    health_headers: dict[str, str] = {}  # shared by the records without headers: never changed in place

    @property
    def alive(self) -> bool:
        return is_same_process(self.pid, self.start_ticks)


class FolderIdentity(NamedTuple):
    """The state folder a stack runs in: a copy of it (``cp -r``) has the same stack.json but another inode."""

    path: str
    device: int
    inode: int

    @classmethod
    def of(cls, directory: Path) -> "FolderIdentity":
        status = directory.stat()
        return cls(str(directory), status.st_dev, status.st_ino)


class StackState(NamedTuple):
    supervisor: ProcessRecord
    components: list[ProcessRecord]
    #: what the user opens, in display order: label -> URL
    links: dict[str, str] = {}  # shared default: never changed in place
    ready: bool = False
    #: the folder that wrote it (set by :func:`write`); None in files of versions before it was recorded
    folder: FolderIdentity | None = None

    def to_json(self) -> str:
        data = {**self._asdict(), "supervisor": self.supervisor._asdict(),
                "components": [record._asdict() for record in self.components],
                "folder": self.folder._asdict() if self.folder else None}
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "StackState":
        """The state in ``text``; ValueError, KeyError or TypeError if it is not one (PIDs are checked)."""
        data: dict[str, Any] = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        links = data.get("links") or {}
        if not _strings(links):
            raise ValueError(f"the links are {links!r}")
        return cls(
            supervisor=_record(data["supervisor"]),
            components=[_record(item) for item in data["components"]],
            links=dict(links),
            ready=bool(data.get("ready")),
            folder=_folder(data.get("folder")),
        )


def _strings(value: object) -> bool:
    return isinstance(value, dict) and all(type(k) is str and type(v) is str for k, v in value.items())


def _record(item: dict[str, Any]) -> ProcessRecord:
    """One record, each field of its type: `status` prints, compares and requests them (it crashed on a name 7)."""
    record = ProcessRecord(**item)
    # A PID that is no positive int would be signalled as something else (-1: every process) or crash.
    if type(record.pid) is not int or record.pid <= 0:
        raise ValueError(f"{record.name!r} has the PID {record.pid!r}")
    if record.start_ticks is not None and type(record.start_ticks) is not int:
        raise ValueError(f"{record.name!r} has the start time {record.start_ticks!r}")
    for field in ("name", "url", "health_url", "log"):
        if type(getattr(record, field)) is not str:
            raise ValueError(f"{record.name!r} has the {field} {getattr(record, field)!r}")
    if not _strings(record.health_headers):
        raise ValueError(f"{record.name!r} has the health_headers {record.health_headers!r}")
    if record.health_url and not is_local_http(record.health_url):
        # `status` requests it: file:///etc/passwd was "healthy", a remote URL would be asked with the login.
        raise ValueError(f"{record.name!r} has the health_url {record.health_url!r} (not http to this machine)")
    return record


def is_local_http(url: str) -> bool:
    """True for an http(s) URL on 127.0.0.1 or localhost: where every server of the stack listens."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost") and (
            parts.port is None or parts.port > 0)
    except ValueError:  # a port that is no number
        return False


def _folder(item: object) -> FolderIdentity | None:
    if item is None:
        return None
    folder = FolderIdentity(**item) if isinstance(item, dict) else None
    if folder is None or type(folder.path) is not str or type(folder.device) is not int or \
            type(folder.inode) is not int:
        raise ValueError(f"the folder is {item!r}")
    return folder


class StateFileError(HmsError):
    """The state file is there but is no stack's state (truncated, emptied, edited by hand)."""


def this_process(name: str = "hms-ops up") -> ProcessRecord:
    return ProcessRecord(name, os.getpid(), process_start_ticks(os.getpid()))


def read(directory: Path) -> StackState | None:
    """The recorded stack, or None when there is none (or the file is unreadable: nothing to trust)."""
    try:
        return StackState.from_json((directory / STATE_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_checked(directory: Path) -> StackState | None:
    """The recorded stack, None when there is no state file, :class:`StateFileError` when it is unreadable."""
    path = directory / STATE_FILE
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise StateFileError(f"{safe_name(str(path))}: cannot read the stack's state file "
                             f"({error.strerror or error})") from None
    try:
        text = data.decode()  # UnicodeDecodeError is a ValueError: a damaged file, not an internal error
        return StackState.from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        if isinstance(error, UnicodeDecodeError):
            why = "not UTF-8 text"
        else:
            # The error may quote the file (an unknown field's name): escaped, as everything read from it.
            why = "empty" if not data.strip() else safe_name(f"{type(error).__name__}: {error}")
        raise StateFileError(f"{safe_name(str(path))}: not a stack state file ({why})") from None


def lock_holder(directory: Path) -> int | None:
    """PID of the process holding the stack lock of ``directory`` (a running `hms-ops up`), else None.

    Found through /proc rather than by trying the lock, so that asking never makes an `up` starting at
    that moment find the lock taken. /proc/locks tells whether the lock is held, but names the process
    that took it, which for `up --detach` is the parent that has since exited: the holder is the process
    that has the lock file open.
    """
    try:
        status = (directory / LOCK_FILE).stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    # "1: FLOCK  ADVISORY  WRITE 32357 fe:00:9977964 0 EOF"; processes waiting for a lock have "->".
    if not any(len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device
               for fields in (line.split() for line in lines)):
        return None
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                opened = os.stat(fd.path)
                if (opened.st_dev, opened.st_ino) == (status.st_dev, status.st_ino):
                    return int(entry.name)
    return None


class ForeignStateError(HmsError):
    """The state file names processes this state folder does not own (a copy of another), or this command's own."""


def check_owner(directory: Path, recorded: StackState) -> None:
    """Raise :class:`ForeignStateError` when ``directory`` is not the folder of the running stack ``recorded`` names.

    ``cp -r .hms-ops evidence; hms-ops down --state evidence`` stopped the live stack: the copy names its
    PIDs with the right start times. A file without the folder (written before it was recorded) is taken
    as before: refusing it would leave a stack started by the previous version with no `down`, and its PIDs
    and start times still name exactly that stack's processes.

    A folder moved to another filesystem gets a new device and inode, as a copy does. What tells them apart
    is the supervisor's lock file, which it keeps open: the kernel names it at its current place (renames
    followed) or as deleted. Deleted, with nothing left at the recorded path, the stack's folder is gone and
    this one, holding its record, was moved here (or copied before the original was removed): the only
    handle left, so it owns the stack. Anything else (the supervisor gone, its fds unreadable) cannot be told
    from a copy and is refused, with what to do.
    """
    folder = recorded.folder
    if folder is None:
        return
    status = directory.stat()
    if (status.st_dev, status.st_ino) == (folder.device, folder.inode):
        return
    # Once that stack has stopped, the copy names only exited processes: nothing to protect, `down` tidies it.
    running = [record for record in [recorded.supervisor, *recorded.components] if record.alive]
    if not running:
        return
    lock = _open_lock(recorded.supervisor) if recorded.supervisor in running else None
    at_recorded_path = _identity_at(folder.path)
    if lock is not None and lock.deleted and lock.device == folder.device and \
            at_recorded_path != (folder.device, folder.inode):
        return  # moved here: the folder the stack started in is gone
    if lock is not None and not lock.deleted:
        live = os.path.dirname(lock.path)
        raise ForeignStateError(f"this state folder is a copy of {safe_name(live)}, whose stack is still "
                                f"running; use --state {shell_word(live)}")
    if at_recorded_path == (folder.device, folder.inode):
        raise ForeignStateError(f"this state folder is a copy of {safe_name(folder.path)}, whose stack is still "
                                f"running; use --state {shell_word(folder.path)}")
    # The recorded folder is gone and the supervisor cannot vouch for this one: a copy, or a move to another
    # filesystem after the supervisor died. Say what runs and how to stop it by hand.
    gone = "no longer exists" if at_recorded_path is None else "is another folder now"
    processes = ", ".join(f"{safe_name(record.name)} (PID {record.pid})" for record in running)
    raise ForeignStateError(
        f"this state folder is not the one its stack.json was written in ({safe_name(folder.path)}, which {gone}): "
        f"a copy, or moved from another filesystem; its stack still runs: {processes}. If it is this folder's, "
        f"stop it with `kill {' '.join(str(record.pid) for record in running)}` and delete "
        f"{shell_word(str(directory / STATE_FILE))}; nothing was stopped"
    )


class _OpenLock(NamedTuple):
    path: str
    deleted: bool
    device: int


def _open_lock(supervisor: ProcessRecord) -> _OpenLock | None:
    """The stack lock file ``supervisor`` holds open, where the kernel says it is now; None if none is seen."""
    suffix, deleted_suffix = f"/{LOCK_FILE}", f"/{LOCK_FILE} (deleted)"
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{supervisor.pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.endswith(suffix) or target.endswith(deleted_suffix):
                    deleted = target.endswith(deleted_suffix)
                    path = target[: -len(" (deleted)")] if deleted else target
                    opened = os.stat(fd.path)
                    if supervisor.alive:  # still the recorded process, not one that took its PID meanwhile
                        return _OpenLock(path, deleted, opened.st_dev)
    return None


def _identity_at(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


def write(directory: Path, state: StackState) -> None:
    """Replace the state file in one step, so a reader never sees half of it; it names ``directory`` as its own."""
    directory.mkdir(parents=True, exist_ok=True)
    state = state._replace(folder=FolderIdentity.of(directory.resolve()))
    partial = directory / (STATE_FILE + ".partial")
    handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the Alertmanager login
    with os.fdopen(handle, "w") as out:
        out.write(state.to_json())
    os.replace(partial, directory / STATE_FILE)


def remove(directory: Path) -> None:
    (directory / STATE_FILE).unlink(missing_ok=True)
    (directory / ALERTS_FILE).unlink(missing_ok=True)  # a next stack's status must not show this one's


class AlertsStatus(NamedTuple):
    """Whether the servers run what the alert folder says (``ok``), and in words: what is loaded, or why not."""

    ok: bool
    detail: str


def write_alerts(directory: Path, status: AlertsStatus) -> None:
    """Written by the alert build's child process after each build that got as far as the servers or failed."""
    from hms_otel.outputs import write_atomically

    write_atomically(directory / ALERTS_FILE, json.dumps(status._asdict()) + "\n")


def read_alerts(directory: Path) -> AlertsStatus | None:
    """The last alert build's outcome; None before the first build. A damaged file is said, not trusted."""
    try:
        data = json.loads((directory / ALERTS_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return AlertsStatus(False, f"{ALERTS_FILE} cannot be read ({error}); see the console for the last build")
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool) or not isinstance(data.get("detail"), str):
        return AlertsStatus(False, f"{ALERTS_FILE} is damaged; see the console for the last build")
    return AlertsStatus(data["ok"], data["detail"])


def try_lock(directory: Path) -> IO[str] | None:
    """Take the stack lock of ``directory`` (kept while the returned file stays open), or None if it is held.

    The kernel drops the lock when its holder dies, even by SIGKILL, so a stale
    lock never blocks the next ``up``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / LOCK_FILE).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def stop_processes(records: list[ProcessRecord], grace: float = 10.0) -> list[ProcessRecord]:
    """SIGTERM each recorded process that is still the same process, SIGKILL it after ``grace``; return them.

    Components run in their own process group (their PID), so the group is
    signalled: a helper a server forked goes with it.
    """
    protected = _protected_pids()
    running = [record for record in records if record.alive and record.pid not in protected]
    for record in running:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(record.alive for record in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for record in running:
        if record.alive:
            _signal(record, signal.SIGKILL)
    return running


def _protected_pids() -> set[int]:
    """PID 1, this process, its process group and session leaders and its ancestors: never the stack's.

    A state file written by hand (or by a hostile tester) could name them with their right start times.
    """
    protected = {1, os.getpid(), os.getpgrp(), os.getsid(0)}
    pid = os.getppid()
    while pid > 1 and pid not in protected:
        protected.add(pid)
        pid = _parent(pid)
    return protected


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after the state


def protected_records(records: list[ProcessRecord]) -> list[ProcessRecord]:
    """The running records :func:`stop_processes` refuses to signal (see :func:`_protected_pids`)."""
    protected = _protected_pids()
    return [record for record in records if record.pid in protected and record.alive]


def _signal(record: ProcessRecord, sig: int) -> None:
    if not record.alive:  # checked right before signalling: the PID must still be ours
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
