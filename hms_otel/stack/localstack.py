"""The whole local stack: collector -> Prometheus (+ Alertmanager) and VictoriaLogs, as real processes.

Usage::

    from hms_otel.stack import LocalStack

    with LocalStack(tmp_path) as stack:              # free loopback ports; LocalStack(..., ports=STANDARD_PORTS)
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = stack.otlp_grpc_endpoint
        ...run an app...
        stack.query('sum(refund_pdf_total)')          # -> Prometheus vector result list

Alert rules: drop compiled rule files into ``stack.rules_dir`` (or pass
``rule_files=``) and call ``stack.reload_prometheus()``; write the
Alertmanager configuration to ``stack.alertmanager_config_path`` (or pass
``alertmanager_config=``) and call ``stack.reload_alertmanager()``.

Everything a run writes (configs, data, one log per process) stays under
``workdir``. Processes are stopped by PID on exit, also when the body raises.
"""

# No `from __future__ import annotations`: see "start-up" in hms_otel/stack/up.py.

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from hms_otel.errors import os_error_text
from hms_otel.stack.builds import MissingBinary
from hms_otel.stack.processes import PortInUse, ProcessError, check_port_free, free_port, wait_all_ready, wait_until
from hms_otel.stack.services import (
    Alertmanager,
    BasicAuth,
    Collector,
    Notifier,
    Prometheus,
    Service,
    VictoriaLogs,
)

#: Launch order of ``hms-ops up``: by how long each takes to become ready, slowest first.
LAUNCH_ORDER = ("collector", "notifier", "prometheus", "alertmanager", "victorialogs")


class StackCannotStart(ProcessError):
    """Ports in use and binaries missing, all of them: nothing was started."""

    def __init__(self, problems: list[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        counted = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        super().__init__(f"the stack cannot start ({counted}); nothing was started:\n{lines}")
        self.problems = problems


class Ports(NamedTuple):  # a named tuple, not a dataclass: see "start-up" in hms_otel/stack/up.py
    """The loopback ports of one stack (``Ports._fields``: their names)."""

    otlp_grpc: int
    otlp_http: int
    prometheus: int
    alertmanager: int
    victorialogs: int
    collector_health: int
    collector_telemetry: int
    notifier: int

    @classmethod
    def free(cls) -> "Ports":
        """Distinct ports nothing listens on now (for tests and parallel stacks)."""
        ports: list[int] = []
        while len(ports) < len(cls._fields):
            ports.append(free_port(avoid=ports))
        return cls(*ports)

    def as_options(self) -> list[str]:
        """These ports as `hms-ops up` options: ``["--otlp-grpc-port", "4317", ...]``."""
        return [word for name, port in self._asdict().items() for word in (port_option(name)[0], str(port))]


#: The usual ports, used by `hms-ops up`.
STANDARD_PORTS = Ports(
    otlp_grpc=4317,
    otlp_http=4318,
    prometheus=9090,
    alertmanager=9093,
    victorialogs=9428,
    collector_health=13133,
    collector_telemetry=8888,
    notifier=9095,
)


def port_option(field: str) -> tuple[str, str]:
    """The `hms-ops up` option and environment variable that set the port ``field`` of :class:`Ports`."""
    return f"--{field.replace('_', '-')}-port", f"HMS_{field.upper()}_PORT"


#: port field -> the `hms-ops up` option and environment variable that change it, as messages say it.
PORT_OPTIONS: dict[str, str] = {name: " or ".join(port_option(name)) for name in Ports._fields}

# Debian's packages run these as system services on the standard ports unless told not to.
_SYSTEM_SERVICE_HINTS = {
    "prometheus": " (Debian's service? `sudo systemctl disable --now prometheus`)",
    "alertmanager": " (Debian's service? `sudo systemctl disable --now prometheus-alertmanager`)",
}


class LocalStack:
    """Collector, Prometheus, Alertmanager and VictoriaLogs wired together on 127.0.0.1.

    ``ports``: a :class:`Ports` (default: free ports). ``collector_config``:
    default collector-config/local.yaml. ``rule_files``: Prometheus rule files
    or globs. ``alertmanager_config``: an Alertmanager config file (default: a
    route to a receiver that does nothing). ``scrape_interval`` and
    ``evaluation_interval``: Prometheus globals (1s keeps tests short).
    ``with_victorialogs=False`` skips the log store (metrics-only tests). ``collector_env``:
    extra environment for the collector. Alertmanager's API needs
    ``alertmanager_auth`` (generated; Prometheus is given it). The notifier
    (``with_notifier``) receives every alert the compiled routing sends it;
    ``notifier_env`` configures its providers; it looks for the probable source
    in the stack's VictoriaLogs (or ``log_store_url``).
    """

    def __init__(
        self,
        workdir: Path | str,
        ports: Ports | None = None,
        *,
        collector_config: Path | None = None,
        rule_files: Sequence[str | Path] = (),
        alertmanager_config: Path | None = None,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        with_victorialogs: bool = True,
        collector_env: Mapping[str, str] | None = None,
        with_notifier: bool = True,
        notifier_env: Mapping[str, str] | None = None,
        log_store_url: str = "",
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.ports = ports or Ports.free()
        p = self.ports
        self.victorialogs = (
            VictoriaLogs(self.workdir / "victorialogs", p.victorialogs) if with_victorialogs else None
        )
        self.alertmanager_auth = BasicAuth.generate()
        self.alertmanager = Alertmanager(self.workdir / "alertmanager", p.alertmanager, config=alertmanager_config,
                                         auth=self.alertmanager_auth)
        log_store = log_store_url or (self.victorialogs.url if self.victorialogs else "")
        self.notifier = (Notifier(self.workdir / "notifier", p.notifier, log_store_url=log_store,
                                  env=notifier_env) if with_notifier else None)
        self.prometheus = Prometheus(
            self.workdir / "prometheus",
            p.prometheus,
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
            rule_files=rule_files,
            alertmanager_port=p.alertmanager,
            alertmanager_auth=self.alertmanager_auth,
            scrape_targets={"hms-otelcol": f"127.0.0.1:{p.collector_telemetry}"},
        )
        # Without the log store the collector still needs a URL; nothing listens there and log export retries.
        logs_url = (
            self.victorialogs.otlp_url if self.victorialogs else f"http://127.0.0.1:{p.victorialogs}/insert/opentelemetry"
        )
        self.collector = Collector(
            self.workdir / "collector",
            config=collector_config,
            otlp_grpc_port=p.otlp_grpc,
            otlp_http_port=p.otlp_http,
            health_port=p.collector_health,
            telemetry_port=p.collector_telemetry,
            remote_write_url=f"{self.prometheus.url}/api/v1/write",
            logs_otlp_url=logs_url,
            spool_port=free_port(avoid=p),
            env=collector_env,
        )

    # -- addresses ------------------------------------------------------------------

    @property
    def otlp_grpc_endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: the value for OTEL_EXPORTER_OTLP_ENDPOINT (gRPC)."""
        return self.collector.otlp_grpc_endpoint

    @property
    def otlp_http_endpoint(self) -> str:
        """``http://127.0.0.1:<port>``: OTLP/HTTP base URL (append /v1/metrics, /v1/logs)."""
        return self.collector.otlp_http_endpoint

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    @property
    def dashboard_dir(self) -> Path:
        """Where the HMS dashboard's files go (``hms_otel.dashboards.site.write_site``)."""
        return self.prometheus.user_assets_dir

    @property
    def dashboard_url(self) -> str:
        return self.prometheus.url + "/user/index.html"

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager.url

    @property
    def victorialogs_url(self) -> str:
        """Base URL of the log store (LogsQL API under /select/logsql/, UI at /select/vmui/)."""
        if self.victorialogs is None:
            raise RuntimeError("this LocalStack was created with with_victorialogs=False")
        return self.victorialogs.url

    @property
    def rules_dir(self) -> Path:
        """Prometheus loads every ``*.yml`` here (after :meth:`reload_prometheus`)."""
        return self.prometheus.rules_dir

    @property
    def alertmanager_config_path(self) -> Path:
        """The file Alertmanager reads; rewrite it and call :meth:`reload_alertmanager`."""
        return self.alertmanager.config_path

    @property
    def notifier_url(self) -> str:
        if self.notifier is None:
            raise RuntimeError("this LocalStack was created with with_notifier=False")
        return self.notifier.url

    def alert_settings(self, environ: Mapping[str, str] | None = None, **changes: Any) -> Any:
        """:class:`~hms_otel.alerts.settings.Settings` (from ``environ``, default the process environment)
        that route this stack's alerts through its notifier."""
        from dataclasses import replace

        from hms_otel.alerts.settings import Settings

        settings = Settings.from_env(environ)
        if self.notifier is not None:
            settings = replace(settings, notifier_url=self.notifier.url,
                               notifier_token_file=str(self.notifier.token_path))
        return replace(settings, **changes)

    def env(self) -> dict[str, str]:
        """Environment for an app under ``opentelemetry-instrument`` that should export to this stack."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_grpc_endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "true"}

    # -- lifecycle ------------------------------------------------------------------

    @property
    def services(self) -> list[Service]:
        """Every component of this stack, in start order (stopped in reverse, the collector first).

        Lifecycle code (start, state file, ``hms-ops status``/``down``) only goes through this list,
        so a new component plugs in by appearing here.
        """
        candidates: list[Service | None] = [
            self.victorialogs, self.notifier, self.alertmanager, self.prometheus, self.collector
        ]
        return [service for service in candidates if service is not None]

    def start(self, on_launch: "Callable[[LocalStack], None] | None" = None, fork: bool = False) -> "LocalStack":
        """Start every process at once and wait until all are ready; on any failure stop them and re-raise.

        Nothing starts unless every port is free and every binary is there; all
        conflicts and missing binaries are reported together in one
        :class:`StackCannotStart`. The servers do not depend on each other to
        start (the collector retries its exports), so they are launched
        together and probed in one loop. ``on_launch`` runs once all processes
        exist, before readiness (``hms-ops up`` records their PIDs then). ``fork``: run the Python
        servers (the notifier) in forks of this process (see ``ManagedProcess.launch``).
        """
        self.check_can_start()
        try:
            # Slowest to become ready first (the collector, then the notifier's Python): each launch takes
            # the CPU the ones already started need, so the slow ones should not wait for the quick ones,
            # nor for the quick ones' configs to be written.
            ranked = sorted(self.services, key=lambda service: LAUNCH_ORDER.index(service.name)
                            if service.name in LAUNCH_ORDER else len(LAUNCH_ORDER))
            processes = []
            for service in ranked:  # from this thread: the parent-death signal follows the starting thread
                try:
                    processes.append(service.prepare())
                    processes[-1].launch(fork=fork)
                except OSError as error:  # its folder, config or log under the workdir cannot be written
                    raise ProcessError(f"{service.name}: cannot write its files: "
                                       f"{os_error_text(error)}") from None
            if on_launch is not None:
                on_launch(self)
            wait_all_ready(processes, max(service.ready_timeout for service in self.services))
        except BaseException:
            self.stop()
            raise
        return self

    def check_can_start(self) -> None:
        """Raise :class:`StackCannotStart` listing every port in use and every missing binary at once."""
        problems: list[str] = []
        used: dict[int, str] = {}
        for name, port in self.ports._asdict().items():
            if (name == "victorialogs" and self.victorialogs is None) or (name == "notifier" and self.notifier is None):
                continue
            # Two servers given one port: the second cannot bind, and its readiness probe would be answered
            # by the first (Prometheus and Alertmanager share /-/healthy), so `up` would report it ready.
            if port in used:
                problems.append(f"port {port} is given to both {used[port].replace('_', ' ')} and "
                                f"{name.replace('_', ' ')}; give each its own with {PORT_OPTIONS[name]}")
                continue
            used[port] = name
            try:
                check_port_free(port, name.replace("_", " "), PORT_OPTIONS[name] + _SYSTEM_SERVICE_HINTS.get(name, ""))
            except PortInUse as error:
                problems.append(str(error))
        for service in self.services:
            try:
                service.binary()
            except MissingBinary as error:
                if str(error) not in problems:
                    problems.append(str(error))
        if problems:
            raise StackCannotStart(problems)

    def stop(self) -> None:
        """Stop everything, collector first so it can flush. Safe to call twice.

        Every process gets its stop even if stopping an earlier one raised; the first error is re-raised.
        """
        errors: list[BaseException] = []
        for service in reversed(self.services):
            try:
                service.stop()
            except BaseException as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- operations -----------------------------------------------------------------

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Prometheus instant query: the result list (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        return self.prometheus.query(promql, at)

    def query_value(self, promql: str, at: float | None = None) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.query(promql, at)
        if not result:
            return None
        if len(result) > 1:
            raise ValueError(f"{promql!r} returned {len(result)} series; wrap it in sum() or narrow it")
        return float(result[0]["value"][1])

    def wait_for(
        self, promql: str, until: Callable[[float | None], bool] = lambda v: v is not None, timeout: float = 60.0
    ) -> float | None:
        """Poll ``query_value(promql)`` until ``until(value)`` holds; raise TimeoutError with the last value.

        ``stack.wait_for("sum(refund_pdf_total)", lambda v: v == 5)``.
        """
        last: list[float | None] = [None]

        def check() -> bool:
            last[0] = self.query_value(promql)
            return until(last[0])

        if not wait_until(check, timeout, interval=0.5):
            raise TimeoutError(
                f"{promql!r} did not reach the expected value within {timeout:.0f} s "
                f"(last value: {last[0]}); collector log: {self.collector.log_path}"
            )
        return last[0]

    def reload_prometheus(self) -> None:
        """Reload prometheus.yml and rule files (SIGHUP); raises ConfigInvalid if Prometheus rejects them."""
        self.prometheus.reload()

    def reload_alertmanager(self) -> None:
        """Reload the Alertmanager config; raises ConfigInvalid if it is rejected."""
        self.alertmanager.reload()

    def stop_prometheus(self) -> None:
        """Stop Prometheus (outage tests); its data directory is kept."""
        self.prometheus.stop()

    def start_prometheus(self) -> None:
        """Start Prometheus again on the same port and data directory."""
        self.prometheus.start()

    def stop_victorialogs(self) -> None:
        """Stop the log store (outage tests); its data directory is kept."""
        if self.victorialogs is not None:
            self.victorialogs.stop()

    def start_victorialogs(self) -> None:
        """Start the log store again on the same port and data directory."""
        if self.victorialogs is not None:
            self.victorialogs.start()

    def kill_collector(self) -> None:
        """SIGKILL the collector (crash tests)."""
        self.collector.kill()

    def start_collector(self) -> None:
        """Start the collector again (same ports, same persistent queue directory)."""
        self.collector.start()
