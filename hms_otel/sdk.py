"""SDK set-up with HMS defaults: upstream's configurator plus what HMS adds.

:class:`hms_otel.distro.HmsConfigurator` subclasses the SDK's own
configurator, so every upstream option (exporters, ``OTEL_CONFIG_FILE``, the
sampler, the id generator, ``telemetry.auto.version``, the configurator
options) behaves as upstream documents. This module holds what HMS adds on
top, for ``opentelemetry-instrument`` and :class:`OPSAgent` alike:

- HMS defaults applied only where the user set nothing (every ``OTEL_*`` wins);
- resource defaults (service name from the script, environment, layer,
  ``telemetry.distro.*``) under whatever ``OTEL_RESOURCE_ATTRIBUTES`` says;
- Python ``logging`` bridged to OTel logs without feeding the exporters' own
  failure messages back into the pipeline;
- a bounded exit: shutdown runs on a daemon thread and is abandoned after
  ``HMS_OTEL_SHUTDOWN_TIMEOUT`` seconds, so a dead collector cannot hold the
  process;
- fork safety: a child gets its own ``service.instance.id`` (upstream), fresh
  exporters and empty aggregation state, so it neither breaks nor re-sends the
  parent's data; a ``multiprocessing`` child flushes when it ends, although it
  ends with ``os._exit`` (no ``atexit``);
- counters the service declared (``metric.declare``) exported at 0 from start-up.

Millisecond histogram buckets need nothing here: instruments carry them as
the SDK's explicit-bucket advisory (:mod:`hms_otel.instruments`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import OTELResourceDetector
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.semconv._incubating.attributes.telemetry_attributes import (
    TELEMETRY_DISTRO_NAME,
    TELEMETRY_DISTRO_VERSION,
)

from hms_otel import _fastpath, _reentry, _sdk_internals, logbuffer, pii
from hms_otel.envcheck import DAY_SECONDS, checked, repair_environment
from hms_otel.export_guard import ExportLimits, guard_log_exporter, guard_metric_exporter
from hms_otel.sigterm import flush_on_sigterm

_log = logging.getLogger("hms_otel")

#: ``telemetry.distro.name`` of every process set up by hms-otel.
DISTRO_NAME = "hms-otel"

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
    # Half a second: a record is searchable within about 2 s of metric.log (benchmarks/bench_logs.py).
    "OTEL_BLRP_SCHEDULE_DELAY": "500",
    # The SDK's 2,048-record queue overflows within a tenth of a second of a busy loop; 512-record batches
    # cap export at what one gRPC round trip per 512 allows. Measured in benchmarks/bench_logs.py.
    "OTEL_BLRP_MAX_QUEUE_SIZE": "16384",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2048",
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
    "HMS_OTEL_LOG_BUFFER_SIZE": "20000",
    "HMS_OTEL_REDACT_PII": "true",
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
    """``HMS_OTEL_SHUTDOWN_TIMEOUT`` in seconds, checked (an invalid value: one warning, then 2)."""
    return float(checked("HMS_OTEL_SHUTDOWN_TIMEOUT") or HMS_ENV["HMS_OTEL_SHUTDOWN_TIMEOUT"])


def resource_defaults(service_name: str | None = None) -> dict[str, Any]:
    """HMS resource attributes for upstream's configurator, minus every key
    ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME`` set (upstream lets
    configurator attributes win over the environment; HMS defaults must not)."""
    from hms_otel import __version__

    environment = os.environ.get("HMS_ENVIRONMENT") or HMS_ENV["HMS_ENVIRONMENT"]
    defaults: dict[str, Any] = {
        "service.name": service_name or _default_service_name(),
        "deployment.environment": environment,
        "deployment.environment.name": environment,
        TELEMETRY_DISTRO_NAME: DISTRO_NAME,
        TELEMETRY_DISTRO_VERSION: __version__,
    }
    if layer := os.environ.get("HMS_LAYER"):
        defaults["hms.layer"] = layer
    from_env = OTELResourceDetector().detect().attributes
    return {key: value for key, value in defaults.items() if key not in from_env}


def _default_service_name() -> str:
    main = getattr(sys.modules.get("__main__"), "__file__", None) or (sys.argv[0] if sys.argv else "")
    stem = Path(main).stem if main else ""
    return stem if stem and stem not in {"-c", "__main__"} else "unknown_service:python"


@dataclass
class Providers:
    """The SDK providers HMS adopted in this process; ``shutdown()`` is bounded."""

    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None
    tracer_provider: TracerProvider | None
    _shutdown_done: threading.Event = field(default_factory=threading.Event)
    #: Set when the shutdown's work has ended; it is given up at ``_shutdown_deadline`` (monotonic).
    _shutdown_over: threading.Event = field(default_factory=threading.Event)
    _shutdown_deadline: float = 0.0

    def _each(self) -> list[Any]:
        # Logs before metrics: log records dropped while shutting down are counted in a metric, exported after.
        return [p for p in (self.logger_provider, self.meter_provider, self.tracer_provider) if p is not None]

    @property
    def shut_down(self) -> bool:
        """Whether ``shutdown()`` ran: nothing is exported any more, and the global providers stay these."""
        return self._shutdown_done.is_set()

    def force_flush(self, timeout: float | None = None) -> bool:
        millis = _millis(timeout)
        return _bounded(lambda: all([p.force_flush(millis) for p in self._each()]), timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop exporting, giving up after ``timeout`` seconds.

        A second call while the first runs waits for it, up to the first one's deadline: SIGTERM arriving
        during the exit flush (``Pool.terminate()`` signals workers that are already ending) returned at
        once, and the default disposition then killed the process in the middle of its export."""
        if self._shutdown_done.is_set():
            return self._shutdown_over.wait(max(0.0, self._shutdown_deadline - time.monotonic()))
        self._shutdown_deadline = time.monotonic() + _seconds(timeout)
        self._shutdown_done.set()
        for handler in _bridge_handlers(self.logger_provider):
            logging.getLogger().removeHandler(handler)

        def stop() -> bool:
            try:
                for provider in self._each():
                    if isinstance(provider, MeterProvider):
                        provider.shutdown(_millis(timeout))
                        _fastpath.disable()
                    else:
                        provider.shutdown()
            finally:
                self._shutdown_over.set()
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


def install(service_name: str | None = None) -> Providers | None:
    """Set up the global providers the way ``opentelemetry-instrument`` does
    (through :class:`~hms_otel.distro.HmsConfigurator`), for :class:`OPSAgent`.

    Returns ``None`` (and changes nothing) when an SDK meter provider is
    already set, so nothing is configured twice.
    """
    from hms_otel.distro import HmsConfigurator

    with _install_lock:
        if _installed is not None or sdk_already_configured():
            return None
        apply_default_env()
        with _reentry.step():  # takes the SDK's locks: a facade in a signal handler meanwhile waits for it
            # Upstream's base class is untyped (its __new__ and configure).
            HmsConfigurator().configure(  # type: ignore[no-untyped-call]
                resource_attributes=resource_defaults(service_name)
            )
        return _installed


def configure(upstream_configure: Callable[..., None], **kwargs: Any) -> None:
    """Run upstream's ``_configure`` with HMS defaults, then adopt its providers.

    Called by :class:`~hms_otel.distro.HmsConfigurator`; ``kwargs`` are the
    configurator options (``opentelemetry-instrument`` passes
    ``auto_instrumentation_version``), passed through unchanged except that
    HMS resource defaults go under the caller's ``resource_attributes``.
    """
    apply_default_env()  # the distro already did under opentelemetry-instrument; idempotent
    kwargs["resource_attributes"] = {**resource_defaults(), **(kwargs.get("resource_attributes") or {})}
    if pii.enabled():  # masked values (and the marker) win over what OTEL_RESOURCE_ATTRIBUTES said
        kwargs["resource_attributes"] = pii.resource_overrides(kwargs["resource_attributes"])
    with _upstream_bridge_warning_silenced():
        upstream_configure(**kwargs)
    _adopt()


def _adopt() -> None:
    """Add what HMS needs to the providers upstream set globally."""
    global _installed, _owner_pid
    meter_provider = metrics.get_meter_provider()
    logger_provider = get_logger_provider()
    tracer_provider = trace.get_tracer_provider()
    providers = Providers(
        meter_provider if isinstance(meter_provider, MeterProvider) else None,
        logger_provider if isinstance(logger_provider, LoggerProvider) else None,
        tracer_provider if isinstance(tracer_provider, TracerProvider) else None,
    )
    for provider in providers._each():
        _sdk_internals.cancel_shutdown_at_exit(provider)
    for handler in _bridge_handlers(providers.logger_provider):
        handler.addFilter(_not_from_exporters)
    _add_log_and_pii_safeguards(providers)
    first = _installed is None
    _installed = providers
    _owner_pid = os.getpid()
    if providers.meter_provider is not None:
        _enable_fastpath(providers.meter_provider)
    if first:
        atexit.register(_shutdown_at_exit)
        flush_on_sigterm(_flush_on_sigterm)
        os.register_at_fork(after_in_child=_reset_after_fork)
    from hms_otel import metric

    metric.start_declared()


def _enable_fastpath(meter_provider: MeterProvider) -> None:
    """Facade calls aggregate in :mod:`hms_otel._fastpath` and reach the
    exporters through readers that merge them into each collection."""
    from hms_otel._fastpath_readers import MergingPeriodicReader

    readers = _sdk_internals.merge_facades_into(meter_provider, MergingPeriodicReader)
    _fastpath.enable(lambda: _sdk_internals.meter_resource(meter_provider), readers)


def _add_log_and_pii_safeguards(providers: Providers) -> None:
    """PII masked before export (logs as emitted, metrics per export); log records held through collector
    outages (:mod:`hms_otel.logbuffer`); records the SDK's full queue drops counted."""
    if providers.logger_provider is not None:
        _sdk_internals.wrap_log_exporters(providers.logger_provider, logbuffer.BufferedLogExporter)
        _sdk_internals.count_log_queue_drops(providers.logger_provider, logbuffer.count_dropped)
        if pii.enabled():  # first, so nothing unmasked is queued or exported
            masking = pii.RedactingLogProcessor(ExportLimits.from_env().log_body_length)
            _sdk_internals.prepend_log_processor(providers.logger_provider, masking)
    if providers.meter_provider is not None and pii.enabled():
        _sdk_internals.wrap_metric_exporters(providers.meter_provider, pii.RedactingMetricExporter)
    # Outermost: bounded values, requests split under the collector's 4 MiB limit, what cannot fit dropped
    # alone and counted (hms_otel.export_guard), so the buffer and the PII masking only see bounded data.
    if providers.logger_provider is not None:
        _sdk_internals.wrap_log_exporters(providers.logger_provider, guard_log_exporter)
    if providers.meter_provider is not None:
        _sdk_internals.wrap_metric_exporters(providers.meter_provider, guard_metric_exporter)


@contextlib.contextmanager
def _upstream_bridge_warning_silenced() -> Iterator[None]:
    """Upstream warns that its ``LoggingHandler`` is deprecated each time it
    installs it; it is still the SDK's bridge in 1.45 and HMS relies on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LOGGING_AUTO_INSTRUMENTATION.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*LoggingHandler.*", category=DeprecationWarning)
        yield


def _bridge_handlers(logger_provider: LoggerProvider | None) -> list[logging.Handler]:
    """The root logger's handlers bridging ``logging`` into OTel logs."""
    if logger_provider is None:
        return []
    return [handler for handler in logging.getLogger().handlers if isinstance(handler, LoggingHandler)]


def _not_from_exporters(record: logging.LogRecord) -> bool:
    return not record.name.startswith(_NEVER_EXPORTED_LOGGERS)


#: The process whose data the providers hold: a forked child holds its parent's until its reset is done.
_owner_pid: int | None = None


def _exportable() -> Providers | None:
    """The providers to flush, unless this is a forked child not reset yet (a signal arrived during the
    at-fork hooks, as ``Pool.terminate()`` sends to workers still starting): flushing then sent the
    parent's points again under the child's new ``service.instance.id``, a duplicate series in
    Prometheus. Such a child has recorded nothing of its own yet."""
    return _installed if _owner_pid == os.getpid() else None


def _shutdown_at_exit() -> None:
    if (providers := _exportable()) is not None:
        providers.shutdown(shutdown_timeout())


def _flush_on_sigterm(terminating: bool) -> None:
    """SIGTERM: flush (or shut down, when the process dies right after) within the bounded exit time."""
    if (providers := _exportable()) is not None:
        if terminating:
            providers.shutdown(shutdown_timeout())
        else:
            providers.force_flush(shutdown_timeout())


def _reset_after_fork() -> None:
    """Give a forked child (gunicorn --preload, multiprocessing) empty cumulative
    state and new exporters; upstream gives it a new ``service.instance.id``.

    A signal can arrive meanwhile (``Pool.terminate()`` stops workers still starting), and its
    handler runs in the middle of this, or of the SDK's own at-fork hooks before it: until the reset is
    done, nothing is flushed (:func:`_exportable`)."""
    global _owner_pid
    if _installed is None:
        return
    _fastpath.reset_after_fork()
    try:
        _sdk_internals.reset_after_fork(
            _installed.meter_provider, _installed.logger_provider, _installed.tracer_provider
        )
    except Exception:  # an SDK upgrade changed internals: keep the app alive
        _log.warning("hms_otel could not reset telemetry after fork", exc_info=True)
    _owner_pid = os.getpid()  # not reached when a handler's exception (SystemExit) ended the reset
    _flush_when_multiprocessing_child_ends()


#: Below multiprocessing's default finalizer priorities (0 and up): run last, after the children are joined.
_MULTIPROCESSING_EXIT_PRIORITY = -100


def _flush_when_multiprocessing_child_ends() -> None:
    """A ``multiprocessing`` child (fork or forkserver start) ends with ``os._exit``: no ``atexit``, so
    what it recorded since the last export interval (often all of it) was lost. It runs multiprocessing's
    exit finalizers first; register the bounded shutdown there. ``Process._bootstrap`` clears the
    finalizers inherited from the parent before it runs the after-fork callbacks, so the finalizer is
    registered from one of those (a fork that is not a ``Process`` never runs it: its ``atexit`` does)."""
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or _installed is None:  # a process that never loaded multiprocessing makes no Process
        return
    mp_util.register_after_fork(_installed, _register_multiprocessing_exit)


def _register_multiprocessing_exit(_providers: Providers) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _shutdown_at_exit, exitpriority=_MULTIPROCESSING_EXIT_PRIORITY)


def _seconds(timeout: float | None) -> float:
    """``timeout`` (default ``HMS_OTEL_SHUTDOWN_TIMEOUT``) within 0 to a day, NaN as 0: ``OPSAgent(shutdown_timeout=)``
    is not checked like the variable, and threading's waits raise OverflowError past about 9.2e9 s."""
    seconds = shutdown_timeout() if timeout is None else timeout
    return min(seconds, DAY_SECONDS) if seconds > 0 else 0.0


def _millis(timeout: float | None) -> float:
    return _seconds(timeout) * 1000


def _bounded(work: Callable[[], bool], timeout: float | None) -> bool:
    """Run ``work`` on a daemon thread; stop waiting after ``timeout`` seconds."""
    limit = _seconds(timeout)
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
