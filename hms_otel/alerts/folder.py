"""Following an alert folder: when to build again, and when not.

The folder is polled by path instead of watched with inotify: a watch follows
the inode, so it goes silent when the folder is removed and re-created, renamed
or replaced by a link, which polling the path survives. A snapshot (names,
sizes, change times of every alert file, and what the path points at) is taken
before each build, so a change during the build (including one right after
start) triggers another; a build only starts once the snapshot has stayed the
same for a settling time, and a build drops its outputs if the files changed
while it ran, so a file that is still being written is never loaded (all or
nothing).

This module only decides *when*; what a build does is passed in
(:func:`hms_otel.alerts.watcher.watch` compiles in this process, ``hms-ops up``
in a short-lived child process). It imports nothing of the compiler, so the
resting ``hms-ops up`` supervisor stays small.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hms_otel.errors import Problem
from hms_otel.yamlfile import find_files

#: ``echo(text, is_error)``; the CLI prints, ``hms-ops up`` may log.
Echo = Callable[[str, bool], None]

#: Seconds between looks at the folder.
POLL_S = 0.25
#: Seconds before writing the outputs again after a write failed, or asking a server that did not answer
#: to reload again.
RETRY_WRITE_S = 5.0
#: Seconds the files must stay unchanged before they are read (a writer may still be busy before that).
SETTLE_S = 0.6
#: Seconds a folder may keep changing before the follower says which files hold every build back.
BUSY_S = 10.0


def is_alert_file(name: str) -> bool:
    # Any case: Latency.YML (as some Windows editors save it) was skipped without a word.
    # Dashboard files live next to alert files (hms_otel.dashboards.spec reads them).
    lower = name.lower()
    return lower.endswith((".yml", ".yaml")) and not name.endswith((".dashboard.yaml", ".dashboard.yml"))


def iter_alert_files(directory: str | Path) -> tuple[list[Path], list[Problem]]:
    """``*.yml``/``*.yaml`` files under ``directory`` (links followed, hidden entries and
    ``*.dashboard.yaml`` skipped), sorted, and a problem for every link that dangles or loops."""
    return find_files(directory, is_alert_file, what="alert file")


@dataclass
class RebuildReport:
    """What one build did."""

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    #: URL -> "ok" or the error the server answered.
    reloads: dict[str, str] = field(default_factory=dict)
    #: The files changed while compiling; nothing was written (the follower builds again).
    stale: bool = False
    #: An output could not be written (e.g. a full disk); the follower tries again a little later.
    unwritten: bool = False
    #: A server did not answer when asked to reload (stopped, busy): it may still run the previous rules,
    #: so the follower builds and reloads again a little later, not only at the next change.
    reload_later: bool = False


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
            paths, problems = iter_alert_files(root)
            entries = []
            for path in paths:
                try:
                    info = path.stat()
                except OSError:
                    continue  # removed meanwhile: the next look sees it
                entries.append((str(path), info.st_size, info.st_mtime_ns, info.st_ino))
            # A link that dangles is part of the picture too: the compile reports it.
            entries.extend((str(problem.location.path), -1, 0, 0) for problem in problems)
        except OSError:
            return cls(None, None)
        newest = max((mtime for _path, _size, mtime, _inode in entries), default=0)
        return cls(target, tuple(sorted(entries)), newest)

    @property
    def missing(self) -> bool:
        return self.files is None


#: ``build(force, still_current)``: one build of the folder. ``force`` reloads the servers even when
#: nothing changed (they may not have read the outputs yet); ``still_current()`` is ``False`` once the
#: files changed after the build started (then it must write nothing and report ``stale``).
Build = Callable[[bool, Callable[[], bool]], RebuildReport]


def follow(
    directory: str | Path,
    build: Build,
    *,
    stop: threading.Event,
    echo: Echo,
    on_rebuild: Callable[[RebuildReport], None] | None = None,
    poll_s: float = POLL_S,
    settle_s: float = SETTLE_S,
    built: Snapshot | None = None,
) -> None:
    """Build now and after every settled change under ``directory`` until ``stop`` is set.

    Survives the folder being removed, re-created, renamed or replaced by a link, and says
    when there is nothing to watch. ``built`` is what an earlier build already read.
    """
    said_missing = False
    force = built is None
    while not stop.is_set():
        current = _settled(directory, stop, poll_s, settle_s, echo)
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
        report = build(force, unchanged_since(directory, current))
        if report.stale:
            continue  # changed while compiling: settle and compile again
        if report.unwritten or report.reload_later:
            # The outputs may already be written: only a forced reload gets them to the servers.
            force = force or report.reload_later
            stop.wait(RETRY_WRITE_S)
            continue
        built = current
        # After a failed build the servers may not run the outputs on disk: the next build reloads them
        # even if it writes nothing new (a file put back as it was).
        force = not report.ok
        if on_rebuild is not None:
            on_rebuild(report)


def unchanged_since(directory: str | Path, snapshot: Snapshot) -> Callable[[], bool]:
    """``still_current`` for a build that read ``snapshot``."""
    return lambda: Snapshot.take(directory) == snapshot


def _settled(directory: str | Path, stop: threading.Event, poll_s: float, settle_s: float, echo: Echo
             ) -> Snapshot | None:
    """A snapshot that stayed the same for ``settle_s`` (``None`` when stopped meanwhile).

    A file that is rewritten again and again (a script, a sync tool) holds back every edit beside it:
    after :data:`BUSY_S` that is said once, naming it, instead of nothing happening.
    """
    current = Snapshot.take(directory)
    seen = began = time.monotonic()  # when `current` was first seen; when the folder was first seen changing
    changes: Counter[str] = Counter()
    said = False
    while True:
        # Files written less than settle_s ago may still be growing, even if two looks agree. A change time
        # in the future (a file server's clock ahead, `rsync -t`, `tar x`) tells nothing: it would hold every
        # build back until that time, so then only the time this look has seen the folder unchanged counts.
        quiet_s = max(_age_s(current), time.monotonic() - seen)
        if stop.wait(min(max(settle_s - quiet_s, poll_s), settle_s)):
            return None
        again = Snapshot.take(directory)
        if again != current:
            changes.update({entry[0] for entry in set(current.files or ()) ^ set(again.files or ())})
            current, seen = again, time.monotonic()
            if not said and changes and seen - began >= BUSY_S:
                echo(_busy_text(directory, changes, seen - began, settle_s), True)
                said = True
            continue
        if max(_age_s(again), time.monotonic() - seen) >= settle_s:
            return again


def _busy_text(directory: str | Path, changes: Counter[str], busy_s: float, settle_s: float) -> str:
    # The files changed more than once are the ones holding the builds back, not the user's one edit.
    ranked = [path for path, count in changes.most_common() if count > 1] or [path for path, _ in changes.most_common()]
    names = [os.path.relpath(path, directory) for path in ranked[:3]]
    more = f" and {len(ranked) - 3} more" if len(ranked) > 3 else ""
    return (f"waiting for {', '.join(names)}{more} in {directory} to stop changing (changed again and again for "
            f"{busy_s:.0f} s): edits load once the folder has been still for {settle_s:g} s")


def _age_s(snapshot: Snapshot) -> float:
    """Seconds since the newest file of ``snapshot`` changed; 0 when that is in the future, inf without files."""
    if not snapshot.newest_ns:
        return float("inf")
    return max((time.time_ns() - snapshot.newest_ns) / 1e9, 0.0)
