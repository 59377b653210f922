"""Deliver journaled messages: retries with exponential backoff and jitter
(``Retry-After`` wins when a provider sends it), one console report per failure
episode with the fix, and a local print of anything that could not be sent in
``max_age``, or that the provider refused for good (a wrong number, wrong
credentials, a revoked webhook), so nothing is silently lost."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.journal import DELIVERED, EXPIRED, PENDING, Entry, Journal
from hms_otel.notify.message import Message, compose
from hms_otel.notify.providers import CHANNEL_NAMES, DeliveryFailed, Provider
from hms_otel.terminal import safe_name

#: (channel, target) -> the provider that sends there.
Router = Callable[[str, str], Provider]
#: An alert -> the probable source text (``None`` when nothing stands out).
SourceFinder = Callable[[AlertEvent], "str | None"]


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    #: After this long a message is printed locally and given up.
    max_age_s: float = 24 * 3600.0
    #: The longest ``Retry-After`` obeyed: a provider asking for days would hold a page past ``max_age_s``.
    retry_after_cap_s: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Full jitter on an exponential step; a provider's ``Retry-After`` (up to its cap) is the minimum."""
        step = min(self.cap_s, self.first_s * self.factor ** max(0, attempts - 1))
        delay = random.uniform(step / 2, step)
        return max(delay, min(retry_after, self.retry_after_cap_s)) if retry_after is not None else delay


def _lane(entry: Entry) -> tuple[str, str]:
    """Where an attempt waits: one SMS provider for every number; a webhook URL per Slack or Teams
    channel, and per webhook action."""
    return (entry.channel, "") if entry.channel == "sms" else (entry.channel, entry.target)


class Dispatcher:
    """Sends what the journal holds, on a few worker threads; ``start()`` resumes what was pending."""

    def __init__(self, journal: Journal, route: Router, find_source: SourceFinder, say: Callable[[str], None],
                 fallback: Router, backoff: Backoff | None = None, workers: int = 4) -> None:
        self.journal = journal
        #: Attempts in flight at once per lane: a provider that hangs (up to its timeout on every
        #: attempt) holds at most this many workers, and the other channels keep theirs.
        self.per_lane = max(1, workers // 2)
        self.route = route
        self.find_source = find_source
        self.say = say
        self.fallback = fallback
        self.backoff = backoff or Backoff()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hms-notify")
        self._pending: dict[str, Entry] = {}
        self._in_flight: set[str] = set()
        self._failing: dict[str, int] = {}  # destination -> failed attempts this episode (given-up ones too)
        self._retrying: set[str] = set()  # destinations whose "failing ... retrying" was said this episode
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hms-notify-dispatch", daemon=True)

    def start(self) -> int:
        """Load what the journal still holds; returns how many messages were resumed."""
        resumed = self.journal.pending()
        with self._lock:
            for entry in resumed:
                entry.next_at = 0.0
                self._pending[entry.key] = entry
        self._thread.start()
        return len(resumed)

    def submit(self, entry: Entry) -> None:
        with self._lock:
            self._pending[entry.key] = entry
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._in_flight

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            with self._lock:
                busy = Counter(_lane(self._pending[key]) for key in self._in_flight if key in self._pending)
                due: list[Entry] = []
                upcoming: list[float] = []
                for entry in sorted(self._pending.values(), key=lambda e: e.next_at):
                    if entry.key in self._in_flight:
                        continue
                    if entry.next_at > now:
                        upcoming.append(entry.next_at)
                        break
                    # A full lane: the entry waits for an attempt there to end (which wakes this loop).
                    if busy[_lane(entry)] < self.per_lane:
                        busy[_lane(entry)] += 1
                        due.append(entry)
                for entry in due:
                    self._in_flight.add(entry.key)
            for entry in due:
                self._pool.submit(self._attempt, entry)
            wait = min(upcoming, default=now + 1.0) - now
            self._wake.wait(timeout=max(0.05, min(wait, 1.0)))
            self._wake.clear()

    def _attempt(self, entry: Entry) -> None:
        try:
            self._deliver(entry)
        except Exception as error:  # a bug in a provider must not stop the others
            entry.last_error = f"internal error: {error!r}"
            entry.next_at = time.time() + self.backoff.delay(entry.attempts + 1, None)
            entry.attempts += 1
            if entry.attempts == 1:  # retried silently, a bug would hold the page with nobody told
                self.say(f"✗ internal error sending to {entry.channel}:{entry.target}: {error!r}; retrying "
                         f"with backoff (journal: {safe_name(str(self.journal.directory))})")
            if time.time() - entry.created > self.backoff.max_age_s:
                entry.state = EXPIRED
                self.say(f"✗ gave up sending to {entry.channel}:{entry.target} after {entry.attempts} attempts "
                         f"({entry.last_error}); the alert was {entry.event.get('name')!r}")
            with contextlib.suppress(OSError):  # a full disk: the entry stays due in memory all the same
                self.journal.save(entry)
        finally:
            with self._lock:
                self._in_flight.discard(entry.key)
                if entry.state != PENDING:
                    self._pending.pop(entry.key, None)
            self._wake.set()

    def _message(self, entry: Entry) -> Message:
        if entry.message is None:
            event = entry.alert()
            source = None
            if event.firing:
                try:
                    source = self.find_source(event)
                except Exception as error:  # the log store being down must not hold the page
                    entry.history.append(f"probable source not looked up: {error}")
            entry.message = asdict(compose(event, source))
            self.journal.save(entry)
        return Message(**entry.message)

    def _deliver(self, entry: Entry) -> None:
        message = self._message(entry)
        event = entry.alert()
        provider = self.route(entry.channel, entry.target)
        destination = f"{entry.channel}:{entry.target}"
        try:
            provider.send(entry.target, message, event)
        except DeliveryFailed as failure:
            entry.attempts += 1
            entry.last_error = failure.reason
            entry.history.append(f"{time.strftime('%H:%M:%S')} {failure.reason}")
            with self._lock:
                self._failing[destination] = self._failing.get(destination, 0) + 1
            if failure.permanent or time.time() - entry.created > self.backoff.max_age_s:
                self._expire(entry, message, event, failure)
                return
            entry.next_at = time.time() + self.backoff.delay(entry.attempts, failure.retry_after)
            self.journal.save(entry)
            with self._lock:
                first = destination not in self._retrying
                self._retrying.add(destination)
            if first:
                channel = CHANNEL_NAMES.get(entry.channel, entry.channel)
                fix = f" Fix: {failure.fix}." if failure.fix else ""
                self.say(f"✗ {channel} delivery to {entry.target} failing: {failure.reason}.{fix} "
                         f"Retrying with backoff; nothing is lost (journal: {safe_name(str(self.journal.directory))}).")
            return
        entry.state = DELIVERED
        entry.attempts += 1
        entry.delivered_at = time.time()
        self.journal.save(entry)
        with self._lock:
            failed = self._failing.pop(destination, 0)
            self._retrying.discard(destination)
        if failed:
            channel = CHANNEL_NAMES.get(entry.channel, entry.channel)
            self.say(f"✓ {channel} delivery to {entry.target} works again (after {failed} failed attempts)")

    def _expire(self, entry: Entry, message: Message, event: AlertEvent, failure: DeliveryFailed) -> None:
        entry.state = EXPIRED
        if failure.permanent:
            entry.history.append(f"{time.strftime('%H:%M:%S')} given up: HTTP {failure.status} is final")
        # A full disk must not keep the message off the console: unsaved, the entry stays pending on disk
        # and is tried (and shown) again after a restart, which beats losing it.
        with contextlib.suppress(OSError):
            self.journal.save(entry)
        if failure.permanent:
            fix = f" Fix: {failure.fix}." if failure.fix else ""
            self.say(f"✗ gave up sending to {entry.channel}:{entry.target} at once: {failure.reason}; "
                     f"retrying cannot change that answer.{fix} The message follows.")
        else:
            self.say(f"✗ gave up sending to {entry.channel}:{entry.target} after {entry.attempts} attempts "
                     f"({failure.reason}); the message follows")
        self.fallback(entry.channel, entry.target).send(entry.target, message, event)
