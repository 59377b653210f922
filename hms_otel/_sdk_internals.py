"""Every private OpenTelemetry SDK detail hms_otel relies on, and nothing else.

Upstream's configurator (``_OTelSDKConfigurator``, private by name but the
class upstream tells distros to subclass) builds the providers; two things HMS
needs cannot be asked of them through public API in SDK 1.45:

- a bounded exit: each provider registers an unbounded ``atexit`` shutdown
  (``shutdown_on_exit=True`` is not a configurator option), which waits for
  export retries when the collector is down;
- fork safety: after ``fork()`` the SDK resets its locks and (with the
  ``service_instance`` detector) the ``service.instance.id``, but keeps the
  parent's cumulative metric state and exporters whose gRPC channel does not
  survive fork;
- the facades' fast path (:mod:`hms_otel._fastpath`): upstream builds the
  push readers, so the readers of a provider and its resource are read here,
  and a plain ``PeriodicExportingMetricReader`` is given the subclass that
  merges the facades' metrics into each collection (it adds methods only).

``tests/sdk/test_sdk_internals.py`` fails when an upgrade moves any of these;
:func:`missing` names what moved.
"""

from __future__ import annotations

import atexit
import io
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk._configuration import _OTelSDKConfigurator as SdkConfigurator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics import _Gauge as SdkGauge
from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "SdkConfigurator",
    "SdkGauge",
    "cancel_shutdown_at_exit",
    "count_log_queue_drops",
    "merge_facades_into",
    "meter_resource",
    "missing",
    "prepend_log_processor",
    "reset_after_fork",
    "wrap_log_exporters",
    "wrap_metric_exporters",
]

# provider class -> name of the attribute holding its atexit handler.
_ATEXIT_ATTRIBUTE: dict[type, str] = {
    MeterProvider: "_atexit_handler",
    TracerProvider: "_atexit_handler",
    LoggerProvider: "_at_exit_handler",
}


def cancel_shutdown_at_exit(provider: Any) -> None:
    """Take back the unbounded shutdown the provider registered with ``atexit``."""
    for cls, attribute in _ATEXIT_ATTRIBUTE.items():
        if isinstance(provider, cls):
            handler = getattr(provider, attribute, None)
            if handler is not None:
                atexit.unregister(handler)
                setattr(provider, attribute, None)


def metric_readers(meter_provider: MeterProvider) -> list[Any]:
    """The readers registered on ``meter_provider`` (no public accessor in 1.45)."""
    return list(meter_provider._measurement_consumer._reader_storages)


def meter_resource(meter_provider: MeterProvider) -> Any:
    """The resource ``meter_provider`` exports with (updated by the SDK after fork)."""
    return meter_provider._sdk_config.resource


def merge_facades_into(meter_provider: MeterProvider, merging_reader: type) -> list[Any]:
    """Make each plain ``PeriodicExportingMetricReader`` of ``meter_provider`` a
    ``merging_reader`` (a subclass with methods only, no state of its own);
    returns every reader, so the caller can tell whether all of them merge."""
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = metric_readers(meter_provider)
    for reader in readers:
        if type(reader) is PeriodicExportingMetricReader:
            reader.__class__ = merging_reader
    return readers


def reset_after_fork(
    meter_provider: MeterProvider | None,
    logger_provider: LoggerProvider | None,
    tracer_provider: TracerProvider | None,
) -> None:
    """In a forked child: empty cumulative metric state and new exporters, so the
    child neither re-sends the parent's points nor writes to a dead channel."""
    if meter_provider is not None:
        consumer = meter_provider._measurement_consumer
        consumer._lock = threading.Lock()
        reader: Any
        for reader, storage in consumer._reader_storages.items():
            storage._lock = threading.RLock()
            storage._instrument_view_instrument_matches.clear()
            exporter = getattr(reader, "_exporter", None)
            if exporter is not None:
                reader._exporter = _fresh(exporter)
    processors: list[Any] = []
    if logger_provider is not None:
        processors += logger_provider._multi_log_record_processor._log_record_processors
    if tracer_provider is not None:
        processors += tracer_provider._active_span_processor._span_processors
    for processor in processors:
        _refresh_batch_exporter(processor)


def _refresh_batch_exporter(processor: Any) -> None:
    batch = getattr(processor, "_batch_processor", None)
    if batch is not None:
        batch._exporter = _fresh(batch._exporter)


def _fresh(exporter: Any) -> Any:
    """A new exporter of the same class, configured from the same environment."""
    if hasattr(exporter, "rewrap"):  # an HMS wrapper (log buffer, PII masking): renew what it wraps
        return exporter.rewrap(_fresh(exporter.exporter))
    try:
        return type(exporter)()
    except Exception:
        return exporter


def _log_processors(logger_provider: LoggerProvider) -> list[Any]:
    return list(logger_provider._multi_log_record_processor._log_record_processors)


def wrap_log_exporters(logger_provider: LoggerProvider, wrap: Callable[[Any], Any]) -> None:
    """Put ``wrap(exporter)`` in place of the exporter of every batch log processor (exporter in, exporter out)."""
    for processor in _log_processors(logger_provider):
        batch = getattr(processor, "_batch_processor", None)
        if batch is not None:
            batch._exporter = wrap(batch._exporter)


def prepend_log_processor(logger_provider: LoggerProvider, processor: Any) -> None:
    """Run ``processor`` before every processor already added (it sees each record first)."""
    multi = logger_provider._multi_log_record_processor
    with multi._lock:
        multi._log_record_processors = (processor, *multi._log_record_processors)


class _DropCounting:
    """Stands in for a batch processor's internal metrics object: every drop it reports is also passed to
    ``count(reason, records)`` (the SDK reports queue-full drops only as a warning on its own logger, which
    the log bridge must not export, so nobody would see them)."""

    def __init__(self, inner: Any, count: Callable[[str, int], None]) -> None:
        self._inner = inner
        self._count = count

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._count("after_shutdown" if error_type == "already_shutdown" else "queue_full", count)
        self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def count_log_queue_drops(logger_provider: LoggerProvider, count: Callable[[str, int], None]) -> None:
    """Have every batch log processor report the records its full queue drops to ``count``."""
    for processor in _log_processors(logger_provider):
        batch = getattr(processor, "_batch_processor", None)
        if batch is not None and not isinstance(batch._metrics, _DropCounting):
            batch._metrics = _DropCounting(batch._metrics, count)


def wrap_metric_exporters(meter_provider: MeterProvider, wrap: Callable[[Any], Any]) -> None:
    """Put ``wrap(exporter)`` in place of the exporter of every periodic metric reader."""
    reader: Any
    for reader in meter_provider._metric_readers:
        exporter = getattr(reader, "_exporter", None)
        if exporter is not None:
            reader._exporter = wrap(exporter)


def missing() -> list[str]:
    """The private details above that this SDK version no longer has (empty when all are there)."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    sink = io.StringIO()
    reader: Any = PeriodicExportingMetricReader(ConsoleMetricExporter(out=sink), export_interval_millis=60_000)
    meters = MeterProvider(metric_readers=[reader])
    meters.get_meter("probe").create_counter("probe_total").add(1)
    logs: Any = LoggerProvider()
    logs.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogRecordExporter(out=sink)))
    traces: Any = TracerProvider()
    traces.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sink)))
    checks: dict[str, Any] = {
        "MeterProvider._atexit_handler": lambda: meters._atexit_handler,
        "LoggerProvider._at_exit_handler": lambda: logs._at_exit_handler,
        "TracerProvider._atexit_handler": lambda: traces._atexit_handler,
        "MeterProvider._measurement_consumer._lock": lambda: meters._measurement_consumer._lock,
        "MetricReaderStorage._lock / _instrument_view_instrument_matches": lambda: [
            (s._lock, s._instrument_view_instrument_matches)
            for s in meters._measurement_consumer._reader_storages.values()
        ],
        "MeasurementConsumer._reader_storages keyed by reader": lambda: meters._measurement_consumer._reader_storages[
            reader
        ],
        "PeriodicExportingMetricReader._exporter": lambda: reader._exporter,
        "MeterProvider._sdk_config.resource": lambda: meters._sdk_config.resource,
        "LoggerProvider._multi_log_record_processor._log_record_processors": (
            lambda: logs._multi_log_record_processor._log_record_processors[0]._batch_processor._exporter
        ),
        "TracerProvider._active_span_processor._span_processors": (
            lambda: traces._active_span_processor._span_processors[0]._batch_processor._exporter
        ),
    }
    checks["_OTelSDKConfigurator._configure"] = lambda: getattr(SdkConfigurator, "_configure", None)
    checks["BatchProcessor._metrics"] = (
        lambda: logs._multi_log_record_processor._log_record_processors[0]._batch_processor._metrics
    )
    checks["SynchronousMultiLogRecordProcessor._lock"] = lambda: logs._multi_log_record_processor._lock
    checks["MeterProvider._metric_readers"] = lambda: meters._metric_readers[0]
    gone = []
    for name, probe in checks.items():
        try:
            if probe() is None:
                gone.append(name)
        except (AttributeError, IndexError, KeyError):
            gone.append(name)
    for provider in (meters, logs, traces):
        cancel_shutdown_at_exit(provider)
        provider.shutdown()
    return gone
