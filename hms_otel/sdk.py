"""SDK set-up with HMS defaults, shared by the configurator and :class:`OPSAgent`.

What this adds over the upstream configurator:
- HMS defaults applied only where the user set nothing (every ``OTEL_*`` wins);
- millisecond histogram buckets through a View;
- Python ``logging`` bridged to OTel logs without feeding the exporters' own
  failure messages back into the pipeline;
- a bounded exit: shutdown runs on a daemon thread and is abandoned after
  ``HMS_OTEL_SHUTDOWN_TIMEOUT`` seconds, so a dead collector cannot hold the
  process;
- fork safety: a child gets its own ``service.instance.id``, fresh exporters and
  empty aggregation state, so it neither breaks nor re-sends the parent's data.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import metrics
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import OTELResourceDetector, Resource

from hms_otel.contract import LATENCY_MS_BUCKETS
from hms_otel.envcheck import repair_environment
from hms_otel.export_guard import guard_log_exporter, guard_metric_exporter
from hms_otel.registry import REGISTRY, Kind
from hms_otel.sigterm import flush_on_sigterm

_log = logging.getLogger("hms_otel")

#: Defaults applied with ``os.environ.setdefault``: what a user exports wins.
DEFAULT_ENV: dict[str, str] = {
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
    "OTEL_EXPORTER_OTLP_INSECURE": "true",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    # The HMS collector has no trace pipeline; set otlp here to send traces elsewhere.
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    "OTEL_METRIC_EXPORT_TIMEOUT": "5000",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "cumulative",
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
    "OTEL_BLRP_SCHEDULE_DELAY": "1000",
    # Bounded values: one huge attribute must not make every export too large (issue 13).
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4096",
    "OTEL_ATTRIBUTE_COUNT_LIMIT": "128",
}

#: HMS-specific settings and their defaults (documented in the README).
HMS_ENV: dict[str, str] = {
    "HMS_OTEL_SHUTDOWN_TIMEOUT": "2",
    "HMS_ENVIRONMENT": "local",
    "HMS_LAYER": "",
    "HMS_OTEL_LOG_BODY_LENGTH_LIMIT": "65536",
    "HMS_OTEL_MAX_REQUEST_BYTES": "3145728",
    "HMS_OTEL_MAX_METRIC_NAMES": "1000",
    "HMS_OTEL_MAX_REMEMBERED_FAILURES": "1000",
}

# Loggers whose records never go to the OTel log pipeline: the SDK and gRPC
# report export failures through them, and exporting those would loop.
_NEVER_EXPORTED_LOGGERS = ("opentelemetry", "grpc", "urllib3", "hms_otel.sdk")


def apply_default_env(overrides: dict[str, str] | None = None) -> None:
    """Fill in HMS defaults (then ``overrides``) where the environment is silent."""
    defaults = {**DEFAULT_ENV, **(overrides or {})}
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    repair_environment({**HMS_ENV, **defaults})


def shutdown_timeout() -> float:
    raw = os.environ.get("HMS_OTEL_SHUTDOWN_TIMEOUT", HMS_ENV["HMS_OTEL_SHUTDOWN_TIMEOUT"])
    try:
        return max(0.0, float(raw))
    except ValueError:
        _log.warning("HMS_OTEL_SHUTDOWN_TIMEOUT=%r is not a number of seconds; using 2", raw)
        return 2.0


def build_resource(service_name: str | None = None) -> Resource:
    """Resource with HMS defaults under whatever OTEL_RESOURCE_ATTRIBUTES and
    OTEL_SERVICE_NAME say (those win)."""
    environment = os.environ.get("HMS_ENVIRONMENT") or HMS_ENV["HMS_ENVIRONMENT"]
    defaults: dict[str, Any] = {
        "service.name": service_name or _default_service_name(),
        "service.instance.id": str(uuid.uuid4()),
        "deployment.environment": environment,
        "deployment.environment.name": environment,
    }
    if layer := os.environ.get("HMS_LAYER"):
        defaults["hms.layer"] = layer
    from_env = OTELResourceDetector().detect().attributes
    return Resource.create({**defaults, **from_env})


def _default_service_name() -> str:
    main = getattr(sys.modules.get("__main__"), "__file__", None) or (sys.argv[0] if sys.argv else "")
    stem = Path(main).stem if main else ""
    return stem if stem and stem not in {"-c", "__main__"} else "unknown_service:python"


def build_views() -> list[View]:
    views = [
        View(
            instrument_type=Histogram,
            instrument_unit="ms",
            aggregation=ExplicitBucketHistogramAggregation(LATENCY_MS_BUCKETS),
        )
    ]
    # Custom boundaries for non-millisecond histograms (the ms View above
    # already matches ms ones; two matching Views would duplicate the stream).
    for definition in REGISTRY:
        if definition.kind is Kind.HISTOGRAM and definition.buckets and definition.unit != "ms":
            views.append(
                View(
                    instrument_name=definition.name,
                    aggregation=ExplicitBucketHistogramAggregation(definition.buckets),
                )
            )
    return views


@dataclass
class Providers:
    """What :func:`install` set up; ``shutdown()`` is bounded."""

    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    logging_handler: logging.Handler | None = None
    _shutdown_done: threading.Event = field(default_factory=threading.Event)

    def force_flush(self, timeout: float | None = None) -> bool:
        return _bounded(
            lambda: self.meter_provider.force_flush(_millis(timeout))
            and self.logger_provider.force_flush(_millis(timeout)),
            timeout,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop exporting, giving up after ``timeout`` seconds."""
        if self._shutdown_done.is_set():
            return True
        self._shutdown_done.set()
        if self.logging_handler is not None:
            logging.getLogger().removeHandler(self.logging_handler)

        def stop() -> bool:
            self.meter_provider.shutdown(_millis(timeout))
            self.logger_provider.shutdown()
            return True

        return _bounded(stop, timeout)


_installed: Providers | None = None
_install_lock = threading.Lock()


def installed() -> Providers | None:
    """The providers hms_otel set up in this process, if any."""
    return _installed


def sdk_already_configured() -> bool:
    """True when someone (hms_otel, opentelemetry-instrument, the app) has set
    an SDK meter provider; the API's proxy provider does not count."""
    return isinstance(metrics.get_meter_provider(), MeterProvider)


def install(
    service_name: str | None = None,
    extra_readers: list[MetricReader] | None = None,
) -> Providers | None:
    """Set up the global meter and logger providers with HMS defaults.

    Returns ``None`` (and changes nothing) when an SDK meter provider is
    already set, so nothing is configured twice.
    """
    global _installed
    with _install_lock:
        if _installed is not None or sdk_already_configured():
            return None
        apply_default_env()
        resource = build_resource(service_name)
        _, metric_exporters, log_exporters = _import_exporters(
            [], _get_exporter_names("metrics"), _get_exporter_names("logs")
        )
        readers: list[MetricReader] = [
            exporter()
            if issubclass(exporter, MetricReader)
            else PeriodicExportingMetricReader(guard_metric_exporter(exporter()))
            for exporter in metric_exporters.values()
        ]
        readers.extend(extra_readers or [])
        meter_provider = MeterProvider(
            resource=resource, metric_readers=readers, views=build_views(), shutdown_on_exit=False
        )
        metrics.set_meter_provider(meter_provider)

        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        for exporter in log_exporters.values():
            logger_provider.add_log_record_processor(BatchLogRecordProcessor(guard_log_exporter(exporter())))
        if not isinstance(get_logger_provider(), LoggerProvider):
            set_logger_provider(logger_provider)

        handler = None
        if os.environ.get("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "").strip().lower() == "true":
            handler = _bridge_logging(logger_provider)

        _installed = Providers(meter_provider, logger_provider, handler)
        atexit.register(_shutdown_at_exit)
        flush_on_sigterm(_flush_on_sigterm)
        os.register_at_fork(after_in_child=_reset_after_fork)
        return _installed


def _bridge_logging(logger_provider: LoggerProvider) -> logging.Handler:
    with warnings.catch_warnings():
        # The SDK handler is deprecated in favour of a contrib package we do
        # not depend on; it is still the supported bridge in SDK 1.45.
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider)
    handler.addFilter(_not_from_exporters)
    logging.getLogger().addHandler(handler)
    _keep_handler_through_logging_config(handler)
    return handler


def _keep_handler_through_logging_config(handler: logging.Handler) -> None:
    """``logging.basicConfig`` does nothing when the root logger has a handler,
    and ``dictConfig``/``fileConfig`` remove it: hide ours while they run."""
    import logging.config

    root = logging.getLogger()

    def around(configure: Any) -> Any:
        if getattr(configure, "_hms_otel_wrapped", False):
            return configure

        def configure_without_otel_handler(*args: Any, **kwargs: Any) -> Any:
            had_it = handler in root.handlers
            if had_it:
                root.removeHandler(handler)
            try:
                return configure(*args, **kwargs)
            finally:
                if had_it and handler not in root.handlers:
                    root.addHandler(handler)

        configure_without_otel_handler._hms_otel_wrapped = True  # type: ignore[attr-defined]
        return configure_without_otel_handler

    logging.basicConfig = around(logging.basicConfig)
    logging.config.dictConfig = around(logging.config.dictConfig)
    logging.config.fileConfig = around(logging.config.fileConfig)


def _not_from_exporters(record: logging.LogRecord) -> bool:
    return not record.name.startswith(_NEVER_EXPORTED_LOGGERS)


def _shutdown_at_exit() -> None:
    if _installed is not None:
        _installed.shutdown(shutdown_timeout())


def _flush_on_sigterm(terminating: bool) -> None:
    """SIGTERM: flush (or shut down, when the process dies right after) within the bounded exit time."""
    if _installed is not None:
        if terminating:
            _installed.shutdown(shutdown_timeout())
        else:
            _installed.force_flush(shutdown_timeout())


def _reset_after_fork() -> None:
    """Give a forked child (gunicorn --preload, multiprocessing) its own identity,
    empty cumulative state and new exporters.

    The SDK restarts its export threads after fork, but the child would still
    carry the parent's aggregated points and ``service.instance.id`` (two
    processes writing one Prometheus series) and a gRPC channel that does not
    survive fork.
    """
    if _installed is None:
        return
    identity = Resource({"service.instance.id": str(uuid.uuid4())})
    try:
        _reset_meter_provider(_installed.meter_provider, identity)
        _reset_logger_provider(_installed.logger_provider, identity)
    except Exception:  # an SDK upgrade changed internals: keep the app alive
        _log.warning("hms_otel could not reset telemetry after fork", exc_info=True)


def _reset_meter_provider(provider: MeterProvider, identity: Resource) -> None:
    provider._update_resource(identity)
    consumer = provider._measurement_consumer
    consumer._lock = threading.Lock()
    for storage in consumer._reader_storages.values():
        storage._lock = threading.RLock()
        storage._instrument_view_instrument_matches.clear()
    for reader in provider._metric_readers:
        exporter = getattr(reader, "_exporter", None)
        if exporter is not None:
            reader._exporter = _fresh(exporter)


def _reset_logger_provider(provider: LoggerProvider, identity: Resource) -> None:
    provider._resource = provider._resource.merge(identity)
    for processor in provider._multi_log_record_processor._log_record_processors:
        batch = getattr(processor, "_batch_processor", None)
        if batch is not None:
            batch._exporter = _fresh(batch._exporter)


def _fresh(exporter: Any) -> Any:
    """A new exporter of the same class, configured from the same environment."""
    renewed = getattr(exporter, "renewed", None)
    if renewed is not None:  # a wrapper (hms_otel.export_guard): renew what it wraps
        return renewed(_fresh(exporter.inner))
    try:
        return type(exporter)()
    except Exception:
        return exporter


def _millis(timeout: float | None) -> float:
    return (shutdown_timeout() if timeout is None else timeout) * 1000


def _bounded(work: Any, timeout: float | None) -> bool:
    """Run ``work`` on a daemon thread; stop waiting after ``timeout`` seconds."""
    limit = shutdown_timeout() if timeout is None else timeout
    outcome: list[bool] = []

    def run() -> None:
        try:
            outcome.append(bool(work()))
        except Exception:
            _log.debug("telemetry shutdown failed", exc_info=True)
            outcome.append(False)

    worker = threading.Thread(target=run, name="hms-otel-shutdown", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        _log.warning("telemetry not flushed within %.1f s; exiting without it", limit)
        return False
    return bool(outcome and outcome[0])
