"""The probable source of an alert: the error or warning its service logged most
often while the alert's window was filling, with numbers and ids normalised
so "Payment #123 timed out" and "Payment #124 timed out" count as one.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Protocol

from hms_otel.notify.alert import AlertEvent

#: A pattern must be seen this often ...
MIN_COUNT = 3
#: ... and this many times as often as the runner-up to "stand out".
LEAD = 1.5

_NORMALISERS = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,}\b"), "<id>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"[-+]?\d+(?:[.,]\d+)*"), "<n>"),
)


def normalise(message: str) -> str:
    """``Payment #123 timed out after 9.8 s`` -> ``Payment #<n> timed out after <n> s``."""
    text = " ".join(message.split())
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return text


def most_frequent(messages: Iterable[tuple[str, int]]) -> str | None:
    """From (message, count) pairs: an example of the pattern that stands out, or ``None``."""
    counts: Counter[str] = Counter()
    examples: dict[str, tuple[int, str]] = {}
    for message, count in messages:
        message = message.strip()
        if not message:
            continue
        pattern = normalise(message)
        counts[pattern] += count
        if count > examples.get(pattern, (0, ""))[0]:
            examples[pattern] = (count, message)
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < MIN_COUNT:
        return None
    if len(ranked) > 1 and ranked[0][1] < LEAD * ranked[1][1]:
        return None
    return examples[ranked[0][0]][1]


class LogCounts(Protocol):
    """What the notifier needs from a log store."""

    def message_counts(self, service: str, layer: str, start: float, end: float) -> list[tuple[str, int]]:
        """(message, count) of warning-or-worse logs of ``service`` (and ``layer`` when set) in [start, end)."""
        ...


class LogStoreCounts:
    """:class:`LogCounts` from the stack's log store (VictoriaLogs, through :mod:`hms_otel.logstore`)."""

    #: Distinct messages fetched per lookup: enough to see a pattern among unique ids.
    LIMIT = 500

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        from hms_otel.logstore import LogStore

        self.store = LogStore(url, timeout=timeout)

    def message_counts(self, service: str, layer: str, start: float, end: float) -> list[tuple[str, int]]:
        return self.store.top_messages(service, layer=layer or None, n=self.LIMIT,
                                       start=datetime.fromtimestamp(start, timezone.utc),
                                       end=datetime.fromtimestamp(end, timezone.utc))


class ProbableSource:
    """Looks the probable source of an alert up in a log store."""

    def __init__(self, logs: LogCounts, *, min_window_s: float = 60.0, settle_s: float = 1.5) -> None:
        self.logs = logs
        self.min_window_s = min_window_s
        #: Logs travel a little slower than metrics (batching in the SDK and collector): an alert
        #: that fired a moment ago is looked up once more after this long when nothing stood out.
        self.settle_s = settle_s

    def __call__(self, event: AlertEvent) -> str | None:
        found = self._lookup(event)
        started = event.started()
        if found is None and event.service and started is not None and time.time() - started < 10 * self.settle_s:
            time.sleep(self.settle_s)
            found = self._lookup(event)
        return found

    def _lookup(self, event: AlertEvent) -> str | None:
        if not event.service:
            return None
        end = time.time()
        # The alert's window, and at least a minute: a 30 s window may hold only a few log lines.
        window = max(event.window_seconds, self.min_window_s)
        started = event.started()
        start = min(end - window, started - window) if started else end - window
        counts = self.logs.message_counts(event.service, event.layer, start, end)
        if not counts and event.layer:  # services that do not tag their logs with a layer
            counts = self.logs.message_counts(event.service, "", start, end)
        return most_frequent(counts)
