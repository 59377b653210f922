"""Log records survive a collector outage: a bounded buffer in front of the log exporter.

The SDK's batch processor hands each batch to its exporter once; when the
collector is down (restarting, killed, unreachable for a while) the OTLP
exporter gives up after its timeout and the batch is gone. :class:`BufferedLogExporter`
wraps any log exporter (exporter in, exporter out, so it composes with other
wrappers such as export size limits) and keeps what could not be sent:

- ``export(batch)`` sends at once when nothing is waiting; when the send fails,
  the batch goes into the buffer and the call returns success (the records are
  held, not lost). While records are waiting, new batches queue behind them, so
  order is kept and the caller's thread (the SDK's worker) never waits on a
  dead collector more than once;
- a background thread re-sends the buffer, oldest first, with backoff from
  0.2 s to 5 s, until it is empty;
- the buffer holds at most ``max_records`` records (``HMS_OTEL_LOG_BUFFER_SIZE``,
  default 20,000, about 20-40 MB of typical records); past that the OLDEST are
  dropped and counted in ``hms_otel_log_records_dropped_total{reason="buffer_full"}``;
- a record the exporter cannot write at all (it raises, e.g. on a value its
  encoder refuses) is dropped alone and counted with ``reason="unexportable"``,
  so it does not hold up the records behind it;
- at shutdown it keeps re-sending until the exporter's shutdown deadline, and
  what is still waiting then is counted with ``reason="shutdown"``.

Every drop is also counted in :func:`dropped` (per reason) and reported once
per minute on stderr, because the bridged root logger cannot report it (the
SDK's own loggers are kept out of the log pipeline to avoid loops).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from hms_otel import terminal
from hms_otel._reentry import deferred_when_nested, facade_lock
from hms_otel.contract import LOG_RECORDS_DROPPED
from hms_otel.envcheck import checked
from hms_otel.registry import REGISTRY

DEFAULT_MAX_RECORDS = 20_000
#: Records per re-send: the size of an SDK batch, far under the collector's 4 MiB request limit.
RESEND_BATCH = 512
_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)

DROPPED = REGISTRY[LOG_RECORDS_DROPPED.name]  # defined in the contract, so alert files know it without the SDK

_dropped: collections.Counter[str] = collections.Counter()
_dropped_lock = facade_lock()
_last_report = [0.0]
_counter: list[Any] = []


@deferred_when_nested
def count_dropped(reason: str, records: int) -> None:
    """Count ``records`` dropped for ``reason``: in the self-metric, in :func:`dropped`, once a minute on stderr."""
    if records <= 0:
        return
    with _dropped_lock:
        _dropped[reason] += records
        report = time.monotonic() - _last_report[0] >= 60
        if report:
            _last_report[0] = time.monotonic()
        totals = dict(_dropped)
    try:
        if not _counter:
            meter = metrics.get_meter("hms_otel")
            _counter.append(meter.create_counter(DROPPED.name, unit=DROPPED.unit, description=DROPPED.description))
        _counter[0].add(records, {"reason": reason})
    except Exception:  # counting must never break logging
        pass
    if report:
        terminal.warn(f"hms_otel: log records dropped so far: {totals} (see {DROPPED.name})")


def dropped() -> dict[str, int]:
    """Log records dropped in this process so far, per reason."""
    with _dropped_lock:
        return dict(_dropped)


def max_records_from_env() -> int:
    """``HMS_OTEL_LOG_BUFFER_SIZE``, checked (an invalid value: one warning, then the default)."""
    return int(checked("HMS_OTEL_LOG_BUFFER_SIZE") or DEFAULT_MAX_RECORDS)


class BufferedLogExporter(LogRecordExporter):
    """``exporter`` plus a bounded buffer that re-sends what the collector did not take."""

    def __init__(self, exporter: LogRecordExporter, max_records: int | None = None) -> None:
        self._exporter = exporter
        self.max_records = max_records_from_env() if max_records is None else max_records
        self._pending: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()  # guards _pending
        self._send_lock = threading.Lock()  # one send at a time, so order is kept
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def exporter(self) -> LogRecordExporter:
        return self._exporter

    def rewrap(self, exporter: LogRecordExporter) -> BufferedLogExporter:
        """The same wrapper around another exporter, with an empty buffer (after fork)."""
        return BufferedLogExporter(exporter, self.max_records)

    @property
    def pending(self) -> int:
        """Records waiting to be re-sent."""
        return len(self._pending)

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        if self._stopping.is_set():
            return self._exporter.export(batch)
        if not self._pending and self._send_lock.acquire(blocking=False):
            try:
                batch = self._send(batch)
                if not batch:
                    return LogRecordExportResult.SUCCESS
            finally:
                self._send_lock.release()
        self._hold(batch)
        return LogRecordExportResult.SUCCESS

    def _send(self, batch: Sequence[Any]) -> Sequence[Any]:
        """Export ``batch``; returns the records still to send (empty when all went), in order.

        An exporter that raises (rather than failing) cannot write some record of the batch, and never will:
        held and re-sent as it is, that batch would fail forever and hold up every record behind it. The
        records it raises on (other than OSError, a connection failure) are found by halving, dropped alone
        and counted (``reason="unexportable"``)."""
        try:
            sent = self._exporter.export(batch) == LogRecordExportResult.SUCCESS
        except OSError:  # an exporter that raises on a connection failure: the collector, not the records
            return batch
        except Exception:
            if len(batch) == 1:
                count_dropped("unexportable", 1)
                return ()
            middle = len(batch) // 2
            rest = self._send(batch[:middle])
            # Once a part is not sent (the collector is down), the later part waits behind it: order is kept.
            return [*rest, *batch[middle:]] if rest else self._send(batch[middle:])
        return () if sent else batch

    def _hold(self, batch: Sequence[Any]) -> None:
        with self._lock:
            self._pending.extend(batch)
            overflow = len(self._pending) - self.max_records
            for _ in range(max(0, overflow)):
                self._pending.popleft()  # the oldest go first: the newest say most about now
        count_dropped("buffer_full", overflow)
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if os.getpid() != self._pid:  # forked: the parent's thread does not exist here
            self._pid = os.getpid()
            self._thread = None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._resend_loop, name="hms-otel-log-buffer", daemon=True)
            self._thread.start()

    def _resend_once(self) -> bool:
        """Send the oldest waiting records; True when they went (or nothing was waiting)."""
        with self._send_lock:
            with self._lock:
                chunk = [self._pending[i] for i in range(min(RESEND_BATCH, len(self._pending)))]
            if not chunk:
                return True
            rest = self._send(chunk)
            if len(rest) == len(chunk):
                return False
            with self._lock:
                for _ in range(len(chunk)):
                    self._pending.popleft()
                self._pending.extendleft(reversed(rest))
            return not rest

    def _resend_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if not self._pending:
                self._wake.clear()
                self._wake.wait(1.0)
                continue
            if self._resend_once():
                failures = 0
            else:
                self._stopping.wait(_BACKOFF[min(failures, len(_BACKOFF) - 1)])
                failures += 1

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Try to send everything waiting within ``timeout_millis``; True when nothing is left."""
        deadline = time.monotonic() + timeout_millis / 1000
        while self._pending and time.monotonic() < deadline:
            if not self._resend_once():
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return not self._pending

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Send what is waiting until the deadline, count the rest as dropped, shut the exporter down."""
        self.force_flush(int(timeout_millis))
        self._stopping.set()
        self._wake.set()
        with self._lock:
            left = len(self._pending)
            self._pending.clear()
        count_dropped("shutdown", left)
        self._exporter.shutdown()  # type: ignore[no-untyped-call]

