"""Caps on what the facades remember per distinct name, so no input grows a process without bound.

- ``HMS_OTEL_MAX_METRIC_NAMES`` (default 1000): distinct metric names the
  facades create beyond the registry's contract. A new name past the cap is
  refused (the call is skipped like any failed facade call) and counted in
  ``hms_otel_dropped_total{signal="metric_names", reason="name_limit"}``.
- ``HMS_OTEL_MAX_REMEMBERED_FAILURES`` (default 1000): distinct (facade, name)
  pairs whose failures are itemised; later ones are counted under the name
  :data:`OTHER` and are not logged one by one.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

from hms_otel._reentry import facade_lock
from hms_otel.selfmetrics import count_dropped

#: Stands for every name past a cap in counts and labels.
OTHER = "(other)"


def _limit(variable: str, default: int) -> int:
    try:
        value = int(os.environ.get(variable, ""))
    except ValueError:
        return default
    return value if value > 0 else default


class DistinctCap:
    """Admits up to ``limit`` distinct keys; a key seen before is always admitted."""

    def __init__(self, variable: str, default: int, drop_signal: str, drop_reason: str) -> None:
        self.variable = variable
        self.default = default
        self._limit: int | None = None  # read on first use: the distro may set the variable after import
        self._keys: set[Hashable] = set()
        self._lock = facade_lock()
        self._drop = (drop_signal, drop_reason)

    @property
    def limit(self) -> int:
        if self._limit is None:
            self._limit = _limit(self.variable, self.default)
        return self._limit

    def admit(self, key: Hashable) -> bool:
        """True if ``key`` is remembered (now or before); False, and counted, past the cap."""
        if key in self._keys:
            return True
        with self._lock:
            if len(self._keys) < self.limit:
                self._keys.add(key)
                return True
        count_dropped(*self._drop, 1, f"more than {self.limit} distinct; raise {self.variable} to keep more")
        return False

    def __len__(self) -> int:
        return len(self._keys)


#: Metric names created through the facades (names of the registry's contract do not count).
METRIC_NAMES = DistinctCap("HMS_OTEL_MAX_METRIC_NAMES", 1000, "metric_names", "name_limit")
#: (facade, metric name) pairs whose failures are itemised.
FAILURE_KEYS = DistinctCap("HMS_OTEL_MAX_REMEMBERED_FAILURES", 1000, "facade_failures", "failure_limit")


class NameLimitReached(ValueError):
    """A facade call named a new metric after ``HMS_OTEL_MAX_METRIC_NAMES`` distinct ones."""
