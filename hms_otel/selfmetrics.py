"""hms_otel's own loss counters: what the distro had to drop, counted and logged once.

Every drop goes through :func:`count_dropped`, so a loss anywhere in the
process shows up as ``hms_otel_dropped_total{signal, reason}`` in Prometheus
and as one warning per (signal, reason) on the ``hms_otel`` logger, however
often it happens.
"""

from __future__ import annotations

import logging

from hms_otel import contract
from hms_otel._reentry import deferred_when_nested, facade_lock
from hms_otel.registry import REGISTRY

_log = logging.getLogger("hms_otel.sdk")  # never bridged to OTel logs (see sdk._NEVER_EXPORTED_LOGGERS)

DROPPED = REGISTRY[contract.DROPPED.name]  # defined in the contract, so alert files know it without the facades

_warned: set[tuple[str, str]] = set()
_lock = facade_lock()


@deferred_when_nested
def count_dropped(signal: str, reason: str, amount: int, detail: str = "") -> None:
    """Add ``amount`` to ``hms_otel_dropped_total{signal, reason}``; warn the first time. Never raises."""
    if amount <= 0:
        return
    try:
        from hms_otel import metric  # the facades' instruments and providers (metric imports this module)

        # Counted before the warning: with stderr closed and no handler, logging raises from its last resort.
        metric._instrument(DROPPED).add(amount, {"signal": signal, "reason": reason})
        with _lock:
            first = (signal, reason) not in _warned
            _warned.add((signal, reason))
        if first:
            _log.warning(
                "hms_otel dropped %d %s (%s)%s; further drops are only counted in %s",
                amount,
                signal,
                reason,
                f": {detail}" if detail else "",
                DROPPED.name,
            )
    except Exception:  # counting a loss must never become a second failure
        pass
