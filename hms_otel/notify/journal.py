"""Every message is on disk before anyone tries to send it.

One JSON file per delivery (channel, target, alert fingerprint, status,
start time), written atomically, so a notifier killed at any point restarts
with everything that was accepted and not yet delivered. The same key arriving
again (Alertmanager re-sends whole groups) is collapsed into the entry already
there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hms_otel.notify.alert import AlertEvent, event_from_json, event_to_json

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


def delivery_key(channel: str, target: str, event: AlertEvent) -> str:
    import hashlib  # loads OpenSSL: only the notifier, which adds entries, needs it (not `hms-ops up`, a reader)

    # Alertmanager's fingerprint is a hash of the labels; another sender may leave it out, and then the
    # labels themselves tell alerts apart (by name alone, db1's and db2's disk_full would be one message).
    identity = event.fingerprint or json.dumps(sorted(event.labels.items()), ensure_ascii=False)
    raw = "\x00".join((channel, target, identity, event.status, event.starts_at))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Journal:
    """The ``journal/`` folder of the notifier's state directory."""

    def __init__(self, directory: Path, dedup_window_s: float = 3000.0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dedup_window_s = dedup_window_s
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

    @staticmethod
    def _read(path: Path) -> Entry | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Entry(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            # A torn file cannot happen with os.replace; anything else unreadable is kept aside, not lost.
            with contextlib.suppress(OSError):
                path.rename(path.with_suffix(".unreadable"))
            return None


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
