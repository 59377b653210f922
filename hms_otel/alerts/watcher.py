"""Recompile on change, validate, write atomically, reload Prometheus and
Alertmanager. A broken alert file is reported with its location and nothing is
written, so the last good rules stay active.

The watcher polls the folder by path instead of using an inotify watch: a
watch follows the inode, so it goes silent when the folder is removed and
re-created, renamed or replaced by a link, which polling the path survives.
A snapshot (names, sizes, change times of every alert file, and what the path
points at) is taken before each compile, so a change during the compile
(including one right after start) triggers another; a compile is only started
once the snapshot has stayed the same for a settling time, and its outputs are
only written if the files did not change while it ran, so a file that is still
being written is never loaded (all or nothing).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hms_otel import http
from hms_otel.alerts.compiler import AlertsInvalid, compile_dir, validate
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.spec import iter_alert_files
from hms_otel.alerts.tools import ToolMissing
from hms_otel.errors import Problem

#: ``echo(text, is_error)``; the CLI prints, ``hms-ops up`` may log.
Echo = Callable[[str, bool], None]
#: Reloads one server; returns "ok" or what went wrong. ``hms-ops up`` reloads Prometheus by SIGHUP.
Reload = Callable[[], str]
_RELOAD_TIMEOUT_S = 10


def _print(text: str, is_error: bool) -> None:
    import click

    from hms_otel.terminal import safe_text

    click.echo(safe_text(text), err=is_error)


@dataclass
class RebuildReport:
    ok: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    #: URL -> "ok" or the error the server answered.
    reloads: dict[str, str] = field(default_factory=dict)
    #: The files changed while compiling; nothing was written (the watcher compiles again).
    stale: bool = False
    #: An output could not be written (e.g. a full disk); the watcher tries again a little later.
    unwritten: bool = False


def rebuild(
    directory: str | Path,
    rules_path: str | Path,
    alertmanager_path: str | Path | None = None,
    *,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    settings: Settings | None = None,
    k8s: bool = False,
    force: bool = True,
    echo: Echo = _print,
    still_current: Callable[[], bool] | None = None,
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
) -> RebuildReport:
    """One compile -> validate -> write -> reload cycle.

    ``force`` reloads even when the outputs did not change (the servers may
    not have read them yet); ``watch`` passes ``False`` after its first cycle.
    ``still_current`` is asked before anything is written: ``False`` (the files
    changed meanwhile) drops this compile's outputs.
    A server is reloaded by ``reload_*`` when given, else by ``POST <url>/-/reload``.
    """
    try:
        result = compile_dir(directory, settings)
    except AlertsInvalid as invalid:
        for problem in invalid.problems:
            echo(str(problem), True)
        echo("alert files have errors; the previous rules stay active", True)
        return RebuildReport(False, invalid.problems)
    try:
        problems = validate(result, settings)
    except ToolMissing as missing:
        echo(f"warning: {missing}; outputs not checked", True)
        problems = []
    if problems:
        for problem in problems:
            echo(str(problem), True)
        echo("alert files have errors; the previous rules stay active", True)
        return RebuildReport(False, problems, result.warnings)
    if still_current is not None and not still_current():
        return RebuildReport(False, [], result.warnings, stale=True)
    for warning in result.warnings:
        echo(str(warning), True)
    report = RebuildReport(True, warnings=result.warnings)
    rules_text = result.prometheus_rule_yaml if k8s else result.rules_yaml
    # Alertmanager first: its new routes must exist before Prometheus sends the new alerts.
    steps: list[tuple[str | Path, str, str | None, Reload | None]] = []
    if alertmanager_path is not None:
        steps.append((alertmanager_path, result.alertmanager_yaml, alertmanager_url,
                      reload_alertmanager or _by_url(alertmanager_url)))
    steps.append((rules_path, rules_text, prometheus_url, reload_prometheus or _by_url(prometheus_url)))
    for path, text, url, reloader in steps:
        try:
            changed = write_atomically(path, text)
        except OSError as error:  # e.g. a full disk: say so, keep what the servers have, try again later
            echo(f"cannot write {path}: {error.strerror or error}; the previous rules stay active", True)
            report.ok = False
            report.unwritten = True
            return report
        if changed:
            report.written.append(str(path))
            echo(f"wrote {path}", False)
        # Reload only on change: Prometheus 2.42 forgets its Alertmanagers for up to 5 s after every
        # reload and drops alerts sent meanwhile (prometheus/prometheus#13064) until the resend delay.
        if reloader is not None and (changed or force):
            name = url or str(path)
            outcome = reloader()
            report.reloads[name] = outcome
            if outcome != "ok":
                report.ok = False
                echo(f"reload of {name} failed: {outcome}", True)
    return report


def write_atomically(path: str | Path, text: str) -> bool:
    """Replace ``path`` with ``text`` in one step; ``False`` when it already had it."""
    target = Path(path)
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _by_url(url: str | None) -> Reload | None:
    return (lambda: reload(url)) if url else None


def reload(base_url: str) -> str:
    """``POST /-/reload``; "ok" or what went wrong (Prometheus answers 500 and keeps the old rules)."""
    try:
        http.request("POST", base_url.rstrip("/") + "/-/reload", data=b"", timeout=_RELOAD_TIMEOUT_S)
    except http.HTTPError as error:
        return str(error)
    return "ok"


#: Seconds between looks at the folder.
POLL_S = 0.25
#: Seconds before writing the outputs again after a write failed.
RETRY_WRITE_S = 5.0
#: Seconds the files must stay unchanged before they are read (a writer may still be busy before that).
SETTLE_S = 0.6


@dataclass(frozen=True)
class Snapshot:
    """What the alert folder looks like: ``None`` files when there is no folder to read."""

    target: str | None
    files: tuple[tuple[str, int, int, int], ...] | None
    newest_ns: int = 0

    @classmethod
    def take(cls, directory: str | Path) -> Snapshot:
        root = Path(directory)
        try:
            if not root.is_dir():
                return cls(None, None)
            target = os.path.realpath(root)
            paths, _problems = iter_alert_files(root)
            entries = []
            for path in paths:
                try:
                    info = path.stat()
                except OSError:
                    continue  # removed meanwhile: the next look sees it
                entries.append((str(path), info.st_size, info.st_mtime_ns, info.st_ino))
            # A link that dangles is part of the picture too: the compile reports it.
            entries.extend((str(problem.location.path), -1, 0, 0) for problem in _problems)
        except OSError:
            return cls(None, None)
        newest = max((mtime for _path, _size, mtime, _inode in entries), default=0)
        return cls(target, tuple(sorted(entries)), newest)

    @property
    def missing(self) -> bool:
        return self.files is None


def watch(
    directory: str | Path,
    rules_path: str | Path,
    alertmanager_path: str | Path | None = None,
    *,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    settings: Settings | None = None,
    stop_event: threading.Event | None = None,
    echo: Echo = _print,
    on_rebuild: Callable[[RebuildReport], None] | None = None,
    poll_s: float = POLL_S,
    settle_s: float = SETTLE_S,
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
) -> None:
    """Rebuild now and after every settled change under ``directory`` until ``stop_event`` is set.

    Survives the folder being removed, re-created, renamed or replaced by a link, and says
    when there is nothing to watch. Never raises for what is in the folder.
    """
    stop = stop_event or threading.Event()
    built: Snapshot | None = None  # what the last finished compile (good or bad) read
    said_missing = False
    force = True
    while not stop.is_set():
        current = _settled(directory, stop, poll_s, settle_s)
        if current is None:
            return
        if current == built:
            stop.wait(poll_s)
            continue
        if current.missing:
            if not said_missing:
                echo(f"nothing to watch: {directory} does not exist (any more); the previous rules stay "
                     "active, and the folder is read again when it appears", True)
                said_missing = True
            built = current
            continue
        said_missing = False
        report = rebuild(directory, rules_path, alertmanager_path, prometheus_url=prometheus_url,
                         alertmanager_url=alertmanager_url, settings=settings, force=force, echo=echo,
                         still_current=_unchanged_since(directory, current),
                         reload_prometheus=reload_prometheus, reload_alertmanager=reload_alertmanager)
        if report.stale:
            continue  # changed while compiling: settle and compile again
        if report.unwritten:
            stop.wait(RETRY_WRITE_S)
            continue
        built = current
        if report.ok:
            force = False
        if on_rebuild is not None:
            on_rebuild(report)


def _unchanged_since(directory: str | Path, snapshot: Snapshot) -> Callable[[], bool]:
    return lambda: Snapshot.take(directory) == snapshot


def _settled(directory: str | Path, stop: threading.Event, poll_s: float, settle_s: float) -> Snapshot | None:
    """A snapshot that stayed the same for ``settle_s`` (``None`` when stopped meanwhile)."""
    current = Snapshot.take(directory)
    while True:
        # Files written less than settle_s ago may still be growing, even if two looks agree.
        age_s = (time.time_ns() - current.newest_ns) / 1e9 if current.newest_ns else settle_s
        wait_s = max(settle_s - age_s, poll_s)
        if stop.wait(wait_s):
            return None
        again = Snapshot.take(directory)
        if again == current and (not again.newest_ns or (time.time_ns() - again.newest_ns) / 1e9 >= settle_s):
            return again
        current = again
