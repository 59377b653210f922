"""``OPSAgent``: the tutorial's one-line set-up.

>>> agent = OPSAgent(service_name="payments").start()
>>> ...
>>> agent.stop()

Under ``opentelemetry-instrument`` the SDK is already set up; ``start()`` then
only adds what was asked for (the ``/metrics`` port) and never configures a
second pipeline.

Started agents share the process's one pipeline: OpenTelemetry sets its global
providers once per process, and the instrumentations' meters stay bound to
them, so a shut-down pipeline cannot be replaced. The last agent to stop shuts
it down; a ``start()`` after that raises instead of exporting nothing.
"""

from __future__ import annotations

import errno
import logging
import numbers
import os
import threading
from types import TracebackType
from typing import Any

from opentelemetry import metrics

from hms_otel import metric, sdk
from hms_otel.envcheck import checked
from hms_otel.prometheus_text import PrometheusTextReader, serve

_log = logging.getLogger("hms_otel")

# Agents started and not stopped: the last one to stop shuts the pipeline down, so stopping one agent does not
# end the export another still relies on.
_agents_lock = threading.Lock()
_started_agents = 0
# The pipeline an agent set up (not one opentelemetry-instrument set up, which shuts down at exit).
_agents_pipeline: sdk.Providers | None = None


class OPSAgent:
    """Start and stop HMS telemetry for one process.

    :param port: serve Prometheus text at ``http://127.0.0.1:PORT/metrics``;
        ``None`` or ``0`` serves nothing. ``HMS_OPSAGENT_PORT`` wins over it
        (``0`` there: any free port), so a script that hard-codes
        ``OPSAgent(port=8009)`` can run twice, or next to a taken 8009; an
        invalid one is warned about and ignored.
    :param service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` or
        ``OTEL_RESOURCE_ATTRIBUTES`` says otherwise.
    :param endpoint: OTLP endpoint unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
    :param shutdown_timeout: seconds ``stop()`` may take at most (default
        ``HMS_OTEL_SHUTDOWN_TIMEOUT``, 2 s); anything but a number raises
        ``TypeError`` here, as an invalid ``port`` raises in ``start()``.

    ``stop()`` then ``start()`` serves again while another agent of the
    process is started; after the last agent's ``stop()`` (or the exit's or
    SIGTERM's shutdown) the pipeline is gone for good and ``start()`` raises
    ``RuntimeError``.
    """

    def __init__(
        self,
        port: int | None = 8009,
        service_name: str | None = None,
        endpoint: str | None = None,
        *,
        host: str = "127.0.0.1",
        shutdown_timeout: float | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.service_name = service_name
        self.endpoint = endpoint
        self.shutdown_timeout = _checked_timeout(shutdown_timeout)
        self._providers: sdk.Providers | None = None
        self._server: Any = None
        self._reader: PrometheusTextReader | None = None
        self._started = False

    @property
    def metrics_url(self) -> str | None:
        if self._server is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"http://{host}:{self._server.server_port}/metrics"

    def start(self) -> OPSAgent:
        """Set up telemetry and serve /metrics; on a started agent, nothing (its server stays the one to stop)."""
        if self._started:  # a second server would outlive stop() (port 0) or find its own port taken
            return self
        # An invalid HMS_OPSAGENT_PORT is warned about and ignored, like every HMS_* value: the app runs.
        override = checked("HMS_OPSAGENT_PORT")
        if override is not None:
            self.port = int(override)
        # Checked before anything is set up: the socket's own errors for these
        # (OverflowError, "cannot be interpreted as an integer") name neither
        # the argument nor the variable. A bad argument is the program's own mistake: it raises.
        if self.port is not None and (type(self.port) is not int or not 0 <= self.port <= 65535):
            raise ValueError(
                f"OPSAgent(port={self.port!r}) is not a port number: use 1 to 65535, 0 for any free port, "
                "or None to serve nothing"
            )
        _refuse_a_shut_down_pipeline()
        if self.endpoint:
            os.environ.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint)
        if self.service_name:
            os.environ.setdefault("OTEL_SERVICE_NAME", self.service_name)
        self._reader = PrometheusTextReader() if self.port is not None else None
        self._providers = sdk.install(self.service_name)
        _keep_pipeline(self._providers)
        if self._reader is not None:
            self._attach_to_existing_sdk(self._reader)
        if self._reader is not None:
            try:
                self._server = serve(self._reader, self.port or 0, self.host)
            except OSError as error:
                # Left attached, the reader kept a copy of every series and slowed every measurement, once
                # more for each failed start (a loop trying port after port).
                _detach(self._reader)
                self._reader = None
                raise OSError(_cannot_serve(self.host, self.port, error)) from None
        _count_started()
        self._started = True
        return self

    def _attach_to_existing_sdk(self, reader: PrometheusTextReader) -> None:
        provider = metrics.get_meter_provider()
        add = getattr(provider, "add_metric_reader", None)
        if add is None:
            _log.warning("hms_otel: the configured meter provider cannot serve /metrics; skipped")
            self._reader = None
            return
        add(reader)
        metric.start_declared()  # a new reader has its own state: declared series start at 0 in it too

    def flush(self) -> bool:
        providers = sdk.installed()
        return providers.force_flush(self.shutdown_timeout) if providers else True

    def stop(self) -> None:
        """Flush and stop serving /metrics; bounded by ``shutdown_timeout`` whatever the collector does.

        The last started agent of the process also shuts the pipeline down (a ``start()`` after that raises);
        while another is started, export goes on for it and ``start()`` may follow.
        """
        if not self._started:  # never started, or stopped already: the count must not go down twice
            return
        self._started = False
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        _count_stopped(self.shutdown_timeout, self._reader)
        self._reader = None
        self._providers = None

    def __enter__(self) -> OPSAgent:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _cannot_serve(host: str, port: int | None, error: OSError) -> str:
    reason = error.strerror or str(error)
    if error.errno in (errno.EADDRINUSE, errno.EACCES):
        fix = "Pass another port (OPSAgent(port=...) or HMS_OPSAGENT_PORT=...) or port=None to serve nothing."
    else:  # no such name, or an address of another machine
        fix = (f"host={host!r} must be a name or address of this machine ('127.0.0.1', '::1', '0.0.0.0' for "
               "all); or pass port=None to serve nothing.")
    return f"OPSAgent cannot serve /metrics on {host}:{port}: {reason}. {fix}"


def _detach(reader: PrometheusTextReader) -> None:
    remove = getattr(metrics.get_meter_provider(), "remove_metric_reader", None)
    if remove is not None:
        try:
            remove(reader)
        except Exception:  # not attached (another SDK set-up): nothing to take back
            _log.debug("hms_otel: the /metrics reader could not be detached", exc_info=True)


def _checked_timeout(timeout: object) -> float | None:
    """``shutdown_timeout`` as seconds, refused here when it is no number: a bad argument is the program's
    own mistake (like a bad ``port=``), and it failed only in flush() or stop(), with a TypeError from deep
    inside that named neither. Any real number passes (a negative one or NaN waits not at all, past a day a
    day, as for HMS_OTEL_SHUTDOWN_TIMEOUT)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            f"OPSAgent(shutdown_timeout={timeout!r}) is not a number of seconds: use a number such as 2, "
            "or None for HMS_OTEL_SHUTDOWN_TIMEOUT"
        )
    return float(timeout)


def _refuse_a_shut_down_pipeline() -> None:
    """Raise before anything is set up: a shut-down pipeline drops every measurement and log record."""
    providers = sdk.installed()
    if providers is not None and providers.shut_down:
        raise RuntimeError(
            "OPSAgent cannot start: this process's telemetry pipeline was shut down (by the last started "
            "agent's stop(), or at exit or SIGTERM) and OpenTelemetry sets up its providers once per process. "
            "Keep one agent started for the life of the process (stop it at the end), or start a second agent "
            "before stopping the first."
        )


def _keep_pipeline(built: sdk.Providers | None) -> None:
    """Remember the pipeline an agent set up, even when its start() then fails: a later agent's stop() ends it."""
    global _agents_pipeline
    if built is not None:
        with _agents_lock:
            _agents_pipeline = built


def _count_started() -> None:
    global _started_agents
    with _agents_lock:
        _started_agents += 1


def _count_stopped(timeout: float | None, reader: PrometheusTextReader | None = None) -> None:
    """Shut the pipeline down when no started agent is left; otherwise flush, so what was recorded until
    ``stop()`` is out as ``stop()`` promises, and drop ``reader`` (a restart adds its own)."""
    global _started_agents
    with _agents_lock:
        _started_agents -= 1
        last = _started_agents == 0
    if last and _agents_pipeline is not None:
        _agents_pipeline.shutdown(timeout)
        return
    remove = getattr(metrics.get_meter_provider(), "remove_metric_reader", None)
    if reader is not None and remove is not None:
        remove(reader)
    providers = sdk.installed()
    if providers is not None:
        providers.force_flush(timeout)
