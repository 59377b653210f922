"""Every message is on disk before anyone tries to send it.

One JSON file per delivery (channel, target, alert fingerprint, status,
start time), written atomically, so a notifier killed at any point restarts
with everything that was accepted and not yet delivered. The same key arriving
again (Alertmanager re-sends whole groups) is collapsed into the entry already
there.

A file that cannot be read back (edited by hand, damaged, or of a shape this
version does not know) is moved aside to ``<key>.unreadable`` and reported,
never left to stop the notifier: its message may be one nobody received.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

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

    def alert(self) -> AlertEvent:
        return event_from_json(self.event)


_NUMBER = (int, float)
#: The JSON types each field may hold: a wrong one (a hand edit) would otherwise surface later, as a
#: comparison that stops the dispatcher or the notifier's start.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,), "channel": (str,), "target": (str,), "event": (dict,), "created": _NUMBER,
    "state": (str,), "attempts": (int,), "next_at": _NUMBER, "message": (dict, type(None)),
    "last_error": (str,), "delivered_at": (*_NUMBER, type(None)), "history": (list,),
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


def delivery_key(channel: str, target: str, event: AlertEvent) -> str:
    import hashlib  # loads OpenSSL: only the notifier, which adds entries, needs it (not `hms-ops up`, a reader)

    # Alertmanager's fingerprint is a hash of the labels; another sender may leave it out, and then the
    # labels themselves tell alerts apart (by name alone, db1's and db2's disk_full would be one message).
    identity = event.fingerprint or json.dumps(sorted(event.labels.items()), ensure_ascii=False)
    raw = "\x00".join((channel, target, identity, event.status, event.starts_at))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Journal:
    """The ``journal/`` folder of the notifier's state directory."""

    def __init__(self, directory: Path, dedup_window_s: float = 3000.0,
                 on_unreadable: Callable[[Path, str], None] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dedup_window_s = dedup_window_s
        #: Called with the new path and the reason when a file is moved aside.
        self.on_unreadable = on_unreadable
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def add(self, channel: str, target: str, event: AlertEvent) -> Entry | None:
        """Journal a new delivery; ``None`` when the same one is already journaled (a re-send)."""
        key = delivery_key(channel, target, event)
        with self._lock:
            existing = self._read(self._path(key))
            if existing is not None:
                recent = existing.delivered_at is None or time.time() - existing.delivered_at < self.dedup_window_s
                if existing.state == PENDING or recent:
                    return None
            entry = Entry(key, channel, target, event_to_json(event), created=time.time())
            self.save(entry)
            return entry

    def save(self, entry: Entry) -> None:
        data = json.dumps(asdict(entry), ensure_ascii=False).encode()
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self._path(entry.key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)

    def pending(self) -> list[Entry]:
        return sorted((e for e in self.entries() if e.state == PENDING), key=lambda e: e.created)

    def entries(self) -> list[Entry]:
        found = []
        for path in self.directory.glob("*.json"):
            entry = self._read(path)
            if entry is not None:
                found.append(entry)
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
            # A torn file cannot happen with os.replace; anything else unreadable is kept aside, not lost.
            aside = path.with_suffix(".unreadable")
            try:
                path.rename(aside)
            except OSError:
                return None  # read again (and reported) next time
            if self.on_unreadable is not None:
                self.on_unreadable(aside, str(error) or type(error).__name__)
            return None


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
