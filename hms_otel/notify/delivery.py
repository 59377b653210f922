"""Deliver journaled messages: retries with exponential backoff and jitter
(``Retry-After`` wins when a provider sends it), one console report per failure
episode with the fix, and a local print of anything that could not be sent in
``max_age``, or that the provider refused for good (a wrong number, wrong
credentials, a revoked webhook), so nothing is silently lost.

One alert's messages to one destination (fired, resolved, fired again) are sent one at a time, oldest
first: a resolution never overtakes its alert, whatever a ``Retry-After``, a restart or the lane's second
worker would do.

Delivery is at least once. A message is recorded delivered only when its
provider answered 2xx within the attempt's deadline (``Backoff.attempt_s``,
30 s, name lookup included). It is sent again, whole, when

* an attempt ends without a 2xx although the provider may have taken it: cut
  at its deadline, cut by a stopping notifier, or its connection lost after
  the request went out. It is retried like any failed attempt;
* the notifier is killed, or the machine loses power, after the 2xx but before
  the delivered record is durable. Records written after an attempt are made
  durable together within :data:`~hms_otel.notify.journal.LAZY_S` (a kill of
  the process loses none of them, only a power loss can): the message is
  pending again at the next start.

A given-up message may likewise be printed a second time. Every attempt of one
message carries the same :attr:`~hms_otel.notify.journal.Entry.delivery_id`:
a ``webhook:`` receiver gets it as ``delivery_id`` and ``Idempotency-Key`` to
drop a repeat; Twilio's Messages API, Slack and Teams take no such key, so a
repeat there reaches its readers."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass

from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.journal import DELIVERED, EXPIRED, PENDING, Entry, Journal
from hms_otel.notify.message import Message, compose
from hms_otel.notify.providers import ATTEMPT_S, CHANNEL_NAMES, Attempt, DeliveryFailed, Provider, attempt
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
    #: The longest one attempt may take, request and whole answer (a provider dribbling its answer is cut).
    attempt_s: float = ATTEMPT_S

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Full jitter on an exponential step; a provider's ``Retry-After`` (up to its cap) is the minimum.
        The exponent is capped: ``2.0 ** 1025`` raises, and a journal may hold any count (hand edits, a year
        of retries), which made the entry due again at once, for ever."""
        step = min(self.cap_s, self.first_s * self.factor ** min(max(0, attempts - 1), _MAX_EXPONENT))
        delay = random.uniform(step / 2, step)
        return max(delay, min(retry_after, self.retry_after_cap_s)) if retry_after is not None else delay


#: How long a stop lets attempts in flight end by themselves before it cuts them: a provider's answer on its
#: way takes well under a second; SIGTERM's budget (``hms-ops down``: 10 s before SIGKILL) keeps the rest.
STOP_GRACE_S = 3.0
#: 2 ** 64 seconds is past any cap; a larger exponent only risks OverflowError.
_MAX_EXPONENT = 64


class Dispatcher:
    """Sends what the journal holds, on a few worker threads; ``start()`` resumes what was pending."""

    def __init__(self, journal: Journal, route: Router, find_source: SourceFinder, say: Callable[[str], None],
                 fallback: Router, backoff: Backoff | None = None, workers: int = 8,
                 lane: Callable[[str, str], Hashable] | None = None) -> None:
        self.journal = journal
        #: Attempts in flight at once per lane (a provider's host): one that hangs (each attempt up to
        #: ``attempt_s``) holds at most this many workers, and other hosts keep the rest.
        self.per_lane = 2
        self.workers = max(workers, 2 * self.per_lane)
        self.lane = lane or (lambda channel, target: (channel, "") if channel == "sms" else (channel, target))
        self.route = route
        self.find_source = find_source
        self.say = say
        self.fallback = fallback
        self.backoff = backoff or Backoff()
        self._pending: dict[str, Entry] = {}
        self._in_flight: dict[str, Attempt | None] = {}  # key -> its attempt, once it has one
        self._failing: dict[str, int] = {}  # destination -> failed attempts this episode (given-up ones too)
        self._retrying: set[str] = set()  # destinations whose "failing ... retrying" was said this episode
        #: Lanes whose provider asked to wait (``Retry-After``) -> until when (``time.time()``): nothing more is
        #: sent there before, or a burst (Alertmanager sends a group in one request) kept hitting a rate limit.
        self._held: dict[Hashable, float] = {}
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

    def stop(self, wait_s: float = 5.0, grace_s: float = STOP_GRACE_S) -> None:
        """Stop within about ``grace_s + wait_s``: no new attempt starts; those in flight have ``grace_s`` to
        end by themselves, then are cut, and what they did not deliver stays pending in the journal for the
        next start (workers are daemon threads: none holds the exit)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=wait_s)
        # Cut at once, an attempt whose provider was answering (Twilio takes a fraction of a second) was
        # pending at the next start and sent again: the same SMS twice.
        self._settled(grace_s)
        with self._lock:
            running = [current for current in self._in_flight.values() if current is not None]
        for current in running:
            current.cut("the notifier is stopping")
        self._settled(wait_s)

    def _settled(self, within_s: float) -> bool:
        """Whether no attempt is in flight, waiting up to ``within_s`` for that."""
        deadline = time.monotonic() + within_s
        while True:
            with self._lock:
                if not self._in_flight:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._in_flight

    def _lane(self, entry: Entry) -> Hashable:
        return self.lane(entry.channel, entry.target)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            with self._lock:
                busy = Counter(self._lane(self._pending[key]) for key in self._in_flight if key in self._pending)
                # One alert's messages to one destination go one at a time, oldest first: its resolution
                # sent while the alert itself waited out a Retry-After (or ran beside it on the lane's
                # other worker) reached the phone first, leaving ALERT as the last word on an incident
                # that was over.
                first: dict[tuple[str, str, str], Entry] = {}
                for entry in self._pending.values():
                    thread = entry.thread
                    if thread not in first or (entry.created, entry.key) < (first[thread].created, first[thread].key):
                        first[thread] = entry
                self._held = {lane: until for lane, until in self._held.items() if until > now}
                due: list[Entry] = []
                upcoming: list[float] = list(self._held.values())
                for entry in sorted(self._pending.values(), key=lambda e: e.next_at):
                    if entry.key in self._in_flight or first[entry.thread] is not entry:
                        continue  # an earlier message of its alert ends first, and wakes this loop
                    if self._lane(entry) in self._held:
                        continue
                    if entry.next_at > now:
                        upcoming.append(entry.next_at)
                        break
                    # A full lane or no free worker: the entry waits for an attempt to end (which wakes this loop).
                    if busy[self._lane(entry)] < self.per_lane and len(self._in_flight) < self.workers:
                        busy[self._lane(entry)] += 1
                        due.append(entry)
                        self._in_flight[entry.key] = None
            for entry in due:
                threading.Thread(target=self._attempt, args=(entry,), name="hms-notify", daemon=True).start()
            wait = min(upcoming, default=now + 1.0) - now
            self._wake.wait(timeout=max(0.05, min(wait, 1.0)))
            self._wake.clear()

    def _attempt(self, entry: Entry) -> None:
        try:
            with attempt(self.backoff.attempt_s, entry.delivery_id) as current:
                with self._lock:
                    self._in_flight[entry.key] = current
                self._deliver(entry)
        except Exception as error:  # a bug outside the provider (composing, the journal): never a hot loop
            self._broken(entry, error)
        finally:
            with self._lock:
                self._in_flight.pop(entry.key, None)
                if entry.state != PENDING:
                    self._pending.pop(entry.key, None)
            self._wake.set()

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        """The wait before the next attempt; never an exception (that left the entry due at once, for ever)."""
        try:
            return self.backoff.delay(attempts, retry_after)
        except Exception:
            return self.backoff.cap_s

    def _broken(self, entry: Entry, error: Exception) -> None:
        """An attempt that failed outside the provider: retried with backoff, given up after ``max_age`` like
        any other, and the alert printed then as well as it can be."""
        destination = f"{entry.channel}:{entry.target}"
        if entry.state != PENDING:  # delivered or given up, but not saved: said, and not sent again
            self.say(f"✗ the journal could not record {_shown(entry)} as {entry.state}: {error!r}")
            return
        entry.last_error = f"internal error: {error!r}"
        entry.attempts += 1
        entry.next_at = time.time() + self._delay(entry.attempts, None)
        with self._lock:
            first = destination not in self._retrying
            self._retrying.add(destination)
        if first:  # retried silently, a bug would hold the page with nobody told
            self.say(f"✗ internal error sending to {_shown(entry)}: {error!r}; retrying "
                     f"with backoff (journal: {safe_name(str(self.journal.directory))})")
        if time.time() - entry.created > self.backoff.max_age_s:
            entry.state = EXPIRED
            self.say(f"✗ gave up sending to {_shown(entry)} after {entry.attempts} attempts "
                     f"({entry.last_error}); the alert follows")
            self._print(entry)
        with contextlib.suppress(OSError):  # a full disk: the entry stays due in memory all the same
            self.journal.save(entry, durable=False)

    def _print(self, entry: Entry) -> None:
        """The given-up alert through the fallback: its message, or its name and labels if none can be made."""
        try:
            message = Message(**entry.message) if entry.message else compose(entry.alert(), None, more=entry.more)
            event = entry.alert()
        except Exception:
            event = AlertEvent(status=str(entry.event.get("status", "firing")), name=str(entry.event.get("name")),
                               labels={}, annotations={}, starts_at="", ends_at="", fingerprint="")
            message = Message(f"[HMS-OPS] {event.name}", json.dumps(entry.event, default=str)[:500], None)
        self.fallback(entry.channel, entry.target).send(entry.target, message, event)
    def _message(self, entry: Entry) -> Message:
        if entry.message is None:
            event = entry.alert()
            source = None
            if event.firing:
                try:
                    source = self.find_source(event)
                except Exception as error:  # the log store being down must not hold the page
                    entry.history.append(f"probable source not looked up: {error}")
            entry.message = asdict(compose(event, source, more=entry.more))
            self.journal.save(entry, durable=False)
        return Message(**entry.message)

    def _deliver(self, entry: Entry) -> None:
        message = self._message(entry)
        event = entry.alert()
        try:
            self.route(entry.channel, entry.target).send(entry.target, message, event)
        except DeliveryFailed as failure:
            self._failed(entry, message, event, failure)
            return
        except Exception as error:  # a bug in a provider: retried and given up like any failure, never lost
            self._failed(entry, message, event, DeliveryFailed(
                f"internal error: {error!r}", fix="this is a bug in hms-ops: please report it"))
            return
        entry.state = DELIVERED
        entry.attempts += 1
        entry.delivered_at = time.time()
        self.journal.save(entry, durable=False)
        destination = f"{entry.channel}:{entry.target}"
        with self._lock:
            failed = self._failing.pop(destination, 0)
            self._retrying.discard(destination)
        if failed:
            channel = CHANNEL_NAMES.get(entry.channel, entry.channel)
            self.say(f"✓ {channel} delivery to {safe_name(entry.target)} works again (after {failed} failed attempts)")

    def _failed(self, entry: Entry, message: Message, event: AlertEvent, failure: DeliveryFailed) -> None:
        """One failed attempt, whatever failed: retried with backoff, or given up through the fallback."""
        if self._stop.is_set():  # cut by stop(): not the provider's failure; pending, sent after the restart
            return
        destination = f"{entry.channel}:{entry.target}"
        entry.attempts += 1
        entry.last_error = failure.reason
        entry.history.append(f"{time.strftime('%H:%M:%S')} {failure.reason}")
        with self._lock:
            self._failing[destination] = self._failing.get(destination, 0) + 1
        if failure.permanent or time.time() - entry.created > self.backoff.max_age_s:
            self._expire(entry, message, event, failure)
            return
        entry.next_at = time.time() + self._delay(entry.attempts, failure.retry_after)
        if failure.retry_after is not None:
            until = time.time() + min(failure.retry_after, self.backoff.retry_after_cap_s)
            with self._lock:
                lane = self._lane(entry)
                self._held[lane] = max(self._held.get(lane, 0.0), until)
        with self._lock:
            first = destination not in self._retrying
            self._retrying.add(destination)
        if first:
            channel = CHANNEL_NAMES.get(entry.channel, entry.channel)
            fix = f" Fix: {failure.fix}." if failure.fix else ""
            self.say(f"✗ {channel} delivery to {safe_name(entry.target)} failing: {failure.reason}.{fix} "
                     f"Retrying with backoff; nothing is lost (journal: {safe_name(str(self.journal.directory))}).")
        self.journal.save(entry, durable=False)

    def _expire(self, entry: Entry, message: Message, event: AlertEvent, failure: DeliveryFailed) -> None:
        entry.state = EXPIRED
        if failure.permanent:
            answer = f"HTTP {failure.status}" if failure.status is not None else "the address"
            entry.history.append(f"{time.strftime('%H:%M:%S')} given up: {answer} is final")
        # A full disk must not keep the message off the console: unsaved, the entry stays pending on disk
        # and is tried (and shown) again after a restart, which beats losing it.
        with contextlib.suppress(OSError):
            self.journal.save(entry, durable=False)
        if failure.permanent:
            fix = f" Fix: {failure.fix}." if failure.fix else ""
            self.say(f"✗ gave up sending to {_shown(entry)} at once: {failure.reason}; "
                     f"retrying cannot change that answer.{fix} The message follows.")
        else:
            self.say(f"✗ gave up sending to {_shown(entry)} after {entry.attempts} attempts "
                     f"({failure.reason}); the message follows")
        self.fallback(entry.channel, entry.target).send(entry.target, message, event)


def _shown(entry: Entry) -> str:
    """``channel:target`` for a console line: the target comes from the request's query string, and a newline
    or control character in it would start a line of its own (a forged record) or reorder what is read."""
    return f"{entry.channel}:{safe_name(entry.target)}"
