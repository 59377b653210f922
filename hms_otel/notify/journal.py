"""Every message is on disk before anyone tries to send it.

One JSON file per delivery (channel, target, alert fingerprint, status,
start time), written atomically, so a notifier killed at any point restarts
with everything that was accepted and not yet delivered. The same key arriving
again (Alertmanager re-sends whole groups) is collapsed into the entry already
there.

Durability is a write-ahead log (group commit): every version of an entry is
first appended to ``log-*.jsonl`` and only then written to its file, without an
fsync. :meth:`Journal.add_all` appends all the alerts of one webhook request and
makes them durable with one fsync of the log before the request is answered, so
a request of 5 000 alerts costs one fsync, not 10 000 (it took 18 s, and
Alertmanager times out and re-sends). What delivery writes after an attempt
(sent, failed, given up) is made durable within :data:`LAZY_S` by one fsync for
all of them: a power loss in that window can only make a delivered message be
sent, or a given-up one be printed, once more (at-least-once). The files
themselves are fsynced in the background (a checkpoint) before the log that
covers them is removed. At start, :meth:`Journal.recover` puts back from the
log any file that a crash or power loss left missing, torn or older (a
``revision`` tells versions apart); a torn last record in the log is one that
was never acknowledged, and is skipped, as is a record that is no entry (damage):
it must not replace a good file. One notifier writes a journal: a second one
on the same folder is refused (:class:`JournalInUse`), as it would take the
first one's live log for a crashed one's and remove it.

A file that cannot be read back (edited by hand, damaged, or of a shape this
version does not know) is moved aside to ``<key>.unreadable`` and reported,
never left to stop the notifier: its message may be one nobody received.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from hms_otel.errors import HmsError
from hms_otel.notify.alert import AlertEvent, event_from_json, event_to_json
from hms_otel.notify.message import Message

PENDING = "pending"
DELIVERED = "delivered"
#: Given up after ``max_age``; the message was printed locally instead.
EXPIRED = "expired"


@dataclass
class Entry:
    key: str
    channel: str
    target: str
    event: dict[str, Any]
    created: float
    state: str = PENDING
    attempts: int = 0
    next_at: float = 0.0
    #: The rendered lines, fixed at the first attempt so every retry sends the same text.
    message: dict[str, Any] | None = None
    last_error: str = ""
    delivered_at: float | None = None
    history: list[str] = field(default_factory=list)
    #: One more at every save: the newest of a file and the log's records for it wins at recovery.
    revision: int = 0
    #: How many other alerts that arrived with this one its message stands for ("+999 more"): a group of a
    #: thousand was a thousand texts to one phone.
    more: int = 0

    def alert(self) -> AlertEvent:
        return event_from_json(self.event)

    @property
    def thread(self) -> tuple[str, str, str]:
        """The destination and the alert: its messages (fired, resolved, fired again) are sent one at a time,
        oldest first (see :class:`~hms_otel.notify.delivery.Dispatcher`)."""
        fingerprint, labels = self.event.get("fingerprint"), self.event.get("labels")
        return self.channel, self.target, alert_identity(
            fingerprint if isinstance(fingerprint, str) else "", labels if isinstance(labels, dict) else {})

    @property
    def delivery_id(self) -> str:
        """The same for every attempt at this message, across retries and restarts (both fields are journaled),
        and another for the same alert journaled again later (a reminder after the dedup window)."""
        return f"{self.key}-{round(self.created * 1_000_000):x}"


_NUMBER = (int, float)
#: The JSON types each field may hold: a wrong one (a hand edit) would otherwise surface later, as a
#: comparison that stops the dispatcher or the notifier's start.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,), "channel": (str,), "target": (str,), "event": (dict,), "created": _NUMBER,
    "state": (str,), "attempts": (int,), "next_at": _NUMBER, "message": (dict, type(None)),
    "last_error": (str,), "delivered_at": (*_NUMBER, type(None)), "history": (list,), "revision": (int,),
    "more": (int,),
}
_REQUIRED = tuple(f.name for f in fields(Entry) if f.default is MISSING and f.default_factory is MISSING)


def entry_from_json(data: object) -> Entry:
    """The :class:`Entry` a journal file holds; ``ValueError`` saying what is wrong with it.

    Fields this version does not know (written by a newer one) are ignored, so its message is still sent.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a JSON object was expected, not {type(data).__name__}")
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    for name, types in _FIELD_TYPES.items():
        value = data.get(name)
        if name not in data:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(dict.fromkeys(_json_name(kind) for kind in types))
            raise ValueError(f"{name} is {json.dumps(value)[:60]}, not {expected}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} is {value}")
    if data.get("state", PENDING) not in (PENDING, DELIVERED, EXPIRED):
        raise ValueError(f"state is {data['state']!r}, not {PENDING}, {DELIVERED} or {EXPIRED}")
    try:
        event = event_from_json(data["event"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"event is not an alert ({type(error).__name__}: {error})") from None
    texts = [event.status, event.name, event.fingerprint, event.starts_at, event.ends_at,
             *event.labels, *event.labels.values(), *event.annotations, *event.annotations.values()]
    if not all(isinstance(text, str) for text in texts):
        raise ValueError("event is not an alert (a name, label or annotation is not a string)")
    known = {name: value for name, value in data.items() if name in _FIELD_TYPES}
    if known.get("message") is not None and not _is_message(known["message"]):
        known["message"] = None  # composed again from the event at the next attempt
    return _in_range(Entry(**known))


#: More attempts than a year of retries at the longest backoff: a count past it is damage, not history.
_MAX_ATTEMPTS = 1_000_000


def _in_range(entry: Entry) -> Entry:
    """``entry`` with out-of-range numbers repaired, each noted in its history: a negative or huge ``attempts``
    (a hand edit) once made the backoff raise and the message due again at once, thousands of times a second;
    a ``created`` in the future would never let it be given up."""
    now = time.time()
    if not 0 <= entry.attempts <= _MAX_ATTEMPTS:
        repaired = min(max(entry.attempts, 0), _MAX_ATTEMPTS)
        entry.history.append(f"attempts {entry.attempts} read from the journal, out of range: set to {repaired}")
        entry.attempts = repaired
    if entry.more < 0:
        entry.history.append(f"more {entry.more} read from the journal, out of range: set to 0")
        entry.more = 0
    if entry.created > now + 86_400:
        entry.history.append(f"created {entry.created} read from the journal, in the future: set to now")
        entry.created = now
    return entry


def _is_message(data: dict[str, Any]) -> bool:
    names = {f.name for f in fields(Message)}
    return (set(data) == names and isinstance(data["headline"], str) and isinstance(data["body"], str)
            and isinstance(data["source"], (str, type(None))))


def _json_name(kind: type) -> str:
    return {str: "a string", dict: "an object", list: "a list", int: "a number", float: "a number",
            type(None): "null"}[kind]


def alert_identity(fingerprint: str, labels: Mapping[str, str]) -> str:
    """What tells one alert from another, across its incidents and its firing and resolved messages."""
    # Alertmanager's fingerprint is a hash of the labels; another sender may leave it out, and then the
    # labels themselves tell alerts apart (by name alone, db1's and db2's disk_full would be one message).
    return fingerprint or json.dumps(sorted(labels.items()), ensure_ascii=False)


def _group(added: list[Entry | None], over: int) -> None:
    """More than ``over`` new entries of one status become one message: the first entry's, counting the
    others, which are marked sent within it."""
    for status in ("firing", "resolved"):
        same = [entry for entry in added if entry is not None and entry.event.get("status") == status]
        if len(same) <= over:
            continue
        head, rest = same[0], same[1:]
        head.more = len(rest)
        for entry in rest:
            entry.state, entry.delivered_at = DELIVERED, entry.created
            entry.history.append(f"sent within the message of {head.key} ({len(same)} alerts arrived together)")


def delivery_key(channel: str, target: str, event: AlertEvent) -> str:
    import hashlib  # loads OpenSSL: only the notifier, which adds entries, needs it (not `hms-ops up`, a reader)

    identity = alert_identity(event.fingerprint, event.labels)
    raw = "\x00".join((channel, target, identity, event.status, event.starts_at))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


#: The write-ahead log's segments; a name no reader of ``*.json`` entries takes for one.
_LOG_GLOB = "log-*.jsonl"
#: A segment this large is checkpointed (its files fsynced) and a new one started: the log a start reads stays
#: small, and so does what one checkpoint fsyncs.
_CHECKPOINT_BYTES = 8 * 2**20
#: How long a record of :meth:`Journal.save` with ``durable=False`` may wait for its fsync.
LAZY_S = 0.05
_KEY = re.compile(r"[0-9a-f]{32}")
#: Held by the notifier writing the journal: one writer at a time (see :meth:`Journal._claim`).
_WRITER_LOCK = "writer.lock"


class JournalInUse(HmsError):
    """Another notifier writes this journal."""


class Journal:
    """The ``journal/`` folder of the notifier's state directory. One process writes it (the notifier); any
    may read it (``hms-ops up`` copies probable sources from it)."""

    def __init__(self, directory: Path, dedup_window_s: float = 3000.0,
                 on_unreadable: Callable[[Path, str], None] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dedup_window_s = dedup_window_s
        #: Called with the new path and the reason when a file is moved aside.
        self.on_unreadable = on_unreadable
        self._lock = threading.Lock()  # entries and the log; taken after _sync_lock, never before it
        self._sync_lock = threading.Lock()  # one fsync of the log at a time: the others wait and share it
        #: One checkpoint at a time: a second one would remove the segments the first is still making durable.
        self._checkpoint_lock = threading.Lock()
        self._log: int | None = None  # the current segment's descriptor, opened at the first write
        self._log_path: Path | None = None
        self._log_bytes = 0
        self._torn = False  # a write to the log failed part way: the next record starts on a line of its own
        self._appended = self._synced = 0  # records appended to the log, and made durable
        self._dirty: set[str] = set()  # keys whose files were written since the last checkpoint began
        self._sealed: list[Path] = []  # segments whose records are all in files a checkpoint still fsyncs
        self._timer: threading.Timer | None = None
        self._writer_lock: IO[str] | None = None  # held (flock) from :meth:`recover` to :meth:`close`

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def add(self, channel: str, target: str, event: AlertEvent) -> Entry | None:
        """Journal a new delivery; ``None`` when the same one is already journaled (a re-send)."""
        return self.add_all(channel, target, [event])[0]

    def add_all(self, channel: str, target: str, events: list[AlertEvent],
                group_over: int = 0) -> list[Entry | None]:
        """Journal the alerts of one webhook request, durably, with one fsync for all of them: for each, its new
        entry, or ``None`` when the same one is already journaled (a re-send). On ``OSError`` none is journaled
        (the request is answered 5xx and re-sent).

        ``group_over``: when more new alerts of one status than this arrive together, they make one message,
        the first one's, which says how many more (:attr:`Entry.more`); the others are journaled as sent
        within it, so a re-send still collapses them. 0: one message per alert."""
        added: list[Entry | None] = []
        try:
            with self._lock:
                seen: set[str] = set()
                for event in events:
                    key = delivery_key(channel, target, event)
                    existing = self._read(self._path(key))
                    if existing is not None:
                        recent = (existing.delivered_at is None
                                  or time.time() - existing.delivered_at < self.dedup_window_s)
                        if existing.state == PENDING or recent:
                            added.append(None)
                            continue
                    if key in seen:  # the same alert twice in one request
                        added.append(None)
                        continue
                    seen.add(key)
                    added.append(Entry(key, channel, target, event_to_json(event), created=time.time(),
                                       revision=existing.revision if existing is not None else 0))
                if group_over:
                    _group(added, group_over)
                for entry in added:
                    if entry is not None:
                        self._write(entry)
                mark = self._appended
            self._sync(mark)
        except BaseException:
            # Never acknowledged: a file left behind would collapse Alertmanager's re-send into an entry this
            # notifier does not deliver until it restarts. (Its record in the log may still put it back then.)
            for new in added:
                if new is not None:
                    with contextlib.suppress(OSError):
                        self._path(new.key).unlink(missing_ok=True)
            raise
        self._checkpoint_when_due()
        return added

    def save(self, entry: Entry, *, durable: bool = True) -> None:
        """Write ``entry``'s new state. ``durable``: on disk when this returns; otherwise within
        :data:`LAZY_S`, with the other lazy saves of that time (the file is written at once all the same, so
        readers and a restart after a crash of the process see it; only a power loss can lose it)."""
        with self._lock:
            self._write(entry)
            mark = self._appended
        if durable:
            self._sync(mark)
            self._checkpoint_when_due()
        else:
            self._flush_soon()

    def close(self) -> None:
        """Make every lazy save durable (the notifier is stopping), and let another writer in."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        try:
            self._sync(self._appended)
        finally:
            if self._writer_lock is not None:
                self._writer_lock.close()
                self._writer_lock = None

    def _claim(self) -> None:
        """Become the journal's one writer, or raise :class:`JournalInUse`. A second notifier on the same folder
        took the first one's live log segment for a crashed one and removed it (so what the first acknowledged
        after that was no longer durable), and both sent every pending message."""
        if self._writer_lock is not None:
            return
        path = self.directory / _WRITER_LOCK
        try:
            handle = path.open("a+")
        except OSError:
            try:  # a read-only journal: flock needs no write access; with no lock file, nobody can write either
                handle = path.open("r")
            except OSError:
                return  # the notifier starts all the same, and answers 503 until the journal can be written
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(20).strip()
            handle.close()
            raise JournalInUse(
                f"another notifier{f' (pid {holder})' if holder.isdigit() else ''} is already using the journal "
                f"{self.directory}: stop it, or give this one its own state_dir (HMS_NOTIFIER_STATE)") from None
        with contextlib.suppress(OSError):  # the pid only names the holder in the refusal
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        self._writer_lock = handle  # the kernel lets go when this process ends, even by SIGKILL

    def recover(self) -> int:
        """After a crash or power loss: put back every entry file that is missing, torn (not JSON) or older
        than the log's newest record of it; how many were put back. A file that is JSON but not an entry is an
        edit, not a crash: it is left to :meth:`_read`, which sets it aside. The notifier calls this at start,
        before reading the journal; the log is removed once a checkpoint has made all its files durable."""
        self._claim()
        restored = 0
        with self._sync_lock, self._lock:
            newest: dict[str, tuple[int, bytes]] = {}
            segments = sorted(path for path in self.directory.glob(_LOG_GLOB) if path != self._log_path)
            for segment in segments:
                for line in _lines(segment):
                    key, revision = _record(line)
                    if key is not None and revision >= newest.get(key, (-1, b""))[0]:
                        newest[key] = (revision, line.rstrip(b"\n"))
            for key, (revision, line) in newest.items():
                path = self._path(key)
                if _revision_on_disk(path) < revision:
                    _replace(path, line, durable=True)
                    restored += 1
            self._dirty.update(newest)
            self._sealed.extend(path for path in segments if path not in self._sealed)
        _fsync_dir(self.directory)
        if segments:
            self._flush_soon()  # the checkpoint removes the segments once their files are fsynced
        return restored

    # -- the log ----------------------------------------------------------------------------------------------
    def _write(self, entry: Entry) -> None:
        """Append ``entry``'s next revision to the log, then write its file (no fsync: see the module). Under
        ``_lock``."""
        entry.revision += 1
        data = json.dumps(asdict(entry), ensure_ascii=False).encode()
        self._append(data)
        _replace(self._path(entry.key), data, durable=False)
        self._dirty.add(entry.key)

    def _append(self, data: bytes) -> None:
        if self._log is None:
            self._log_path = self.directory / f"log-{time.time_ns():020d}-{os.getpid()}.jsonl"
            self._log = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            self._log_bytes = 0
            _fsync_dir(self.directory)  # the segment's name too must survive what it holds
        record = (b"\n" if self._torn else b"") + data + b"\n"
        self._torn = True
        view = memoryview(record)
        while view:
            view = view[os.write(self._log, view):]
        self._torn = False
        self._log_bytes += len(record)
        self._appended += 1

    def _sync(self, mark: int) -> None:
        """Make the log durable up to record ``mark``: one fsync covers every record appended before it, so
        threads saving at once share it (group commit)."""
        with self._sync_lock:
            with self._lock:
                if self._synced >= mark:
                    return
                upto, log = self._appended, self._log
            if log is not None:
                os.fsync(log)
            self._synced = max(self._synced, upto)

    def _flush_soon(self) -> None:
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(LAZY_S, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
        # A failing disk: the records wait for the next save's fsync; a durable save would raise and say so.
        with contextlib.suppress(OSError):
            self._sync(self._appended)
            self._checkpoint_when_due(now=True)

    def _checkpoint_when_due(self, *, now: bool = False) -> None:
        if self._log_bytes > _CHECKPOINT_BYTES or (self._sealed and now):
            if now:
                self._checkpoint()
            else:
                self._flush_soon()  # in the background: not on the path of a webhook request

    def _checkpoint(self) -> None:
        """Start a new segment, fsync the files the old ones cover, then remove those segments."""
        with self._checkpoint_lock:
            self._checkpoint_now()

    def _checkpoint_now(self) -> None:
        with self._sync_lock, self._lock:
            if self._log is not None:
                os.fsync(self._log)
                os.close(self._log)
                self._synced = self._appended
                assert self._log_path is not None
                self._sealed.append(self._log_path)
                self._log = self._log_path = None
            sealed, keys, self._dirty = list(self._sealed), self._dirty, set()
        try:
            for key in keys:
                _fsync(self._path(key))
            _fsync_dir(self.directory)
            # A file fsynced above may have been replaced since by a newer revision whose record is in the new
            # segment: that record must be durable before the older one goes.
            self._sync(self._appended)
        except OSError:
            with self._lock:
                self._dirty |= keys
            raise
        for path in sealed:
            path.unlink(missing_ok=True)
        with self._lock:
            self._sealed = [path for path in self._sealed if path not in sealed]

    # -- reading ----------------------------------------------------------------------------------------------
    def pending(self) -> list[Entry]:
        return sorted((e for e in self.entries() if e.state == PENDING), key=lambda e: e.created)

    def entries(self) -> list[Entry]:
        found = []
        for path in self.directory.glob("*.json"):
            entry = self._read(path)
            if entry is not None:
                found.append(entry)
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        """channel -> state -> how many messages the journal holds (a week of finished ones: see prune)."""
        found: dict[str, dict[str, int]] = {}
        for entry in self.entries():
            states = found.setdefault(entry.channel, {PENDING: 0, DELIVERED: 0, EXPIRED: 0})
            states[entry.state] = states.get(entry.state, 0) + 1
        return found

    def prune(self, older_than_s: float) -> int:
        """Delete finished entries older than ``older_than_s``; how many went."""
        removed = 0
        now = time.time()
        for entry in self.entries():
            finished = entry.delivered_at or (entry.created if entry.state != PENDING else None)
            if finished is not None and now - finished > older_than_s:
                self._path(entry.key).unlink(missing_ok=True)
                removed += 1
        return removed

    def unreadable(self) -> list[Path]:
        """The files moved aside, oldest first."""
        return sorted(self.directory.glob("*.unreadable"), key=lambda path: path.stat().st_mtime)

    def _read(self, path: Path) -> Entry | None:
        try:
            entry = entry_from_json(json.loads(path.read_text(encoding="utf-8")))
            if entry.key != path.stem:  # saved under its key: another name would deliver it twice
                raise ValueError(f"its key {entry.key!r} is not its file name")
            return entry
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as error:
            # What a crash can leave (a missing, torn or older file) :meth:`recover` puts back from the log;
            # anything else unreadable is kept aside, not lost.
            aside = path.with_suffix(".unreadable")
            try:
                path.rename(aside)
            except OSError:
                return None  # read again (and reported) next time
            if self.on_unreadable is not None:
                self.on_unreadable(aside, str(error) or type(error).__name__)
            return None


def _lines(segment: Path) -> Iterator[bytes]:
    """The lines of a log segment, one at a time (a 200 MB log was read whole, twice its size in memory).
    ``OSError`` naming the segment when it is no regular file: a FIFO there hung the notifier's start, and
    ``/dev/zero`` filled its memory."""
    fd = os.open(segment, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, to be refused below
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file, so not a journal log segment: move it out of the "
                                    "journal folder", str(segment))
    with os.fdopen(fd, "rb") as stream:
        yield from stream


def _record(line: bytes) -> tuple[str | None, int]:
    """The key and revision of one line of the log; ``None`` for a torn or damaged one (never acknowledged:
    the request that wrote it got no answer, or a 503), and for one that is no entry (damage or an edit): put
    back, it would replace a good file and be set aside, and that message not sent."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None, 0
    if not isinstance(data, dict):
        return None, 0
    key, revision = data.get("key"), data.get("revision")
    if not isinstance(key, str) or not _KEY.fullmatch(key) or type(revision) is not int:
        return None, 0  # the key names a file: only ever one of ours
    try:
        entry_from_json(data)
    except ValueError:
        return None, 0
    return key, revision


def _revision_on_disk(path: Path) -> float:
    """The revision of the entry file at ``path``; -1 when a crash can have left it so (missing, empty, cut,
    zeros); +inf when it is JSON but not ours to replace (an edit: read, and set aside if wrong, as ever)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return -1
    except (ValueError, RecursionError):
        return -1
    if not isinstance(data, dict) or data.get("key") != path.stem:
        return math.inf
    revision = data.get("revision", 0)  # none: written before the log was (an older version)
    return revision if type(revision) is int else math.inf


def _replace(path: Path, data: bytes, *, durable: bool) -> None:
    """Write ``path`` atomically: a reader sees the old content or the new, never part of it."""
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    """fsync the file at ``path``, if there is one (a finished entry may have been pruned)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """fsync a folder, so the names in it survive a power loss; a file system that cannot is not an error."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
