"""The four real backends as plain local processes: collector, Prometheus, Alertmanager, Loki.

Each class writes its own configuration and data directory under ``workdir``,
listens on 127.0.0.1 only, and wraps a :class:`~hms_otel.stack.processes.ManagedProcess`
(``start()`` waits for readiness, ``stop()`` stops by PID). :class:`hms_otel.stack.localstack.LocalStack`
wires them together; use these directly only to run one backend alone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hms_otel import http
from hms_otel.stack.builds import find_binary
from hms_otel.stack.consoles import write_consoles
from hms_otel.stack.packaged import collector_config_dir
from hms_otel.stack.processes import HOST, ManagedProcess


class ConfigInvalid(RuntimeError):
    """A configuration was rejected by the program that reads it; the message has its output."""


def collector_config_path(name: str = "local") -> Path:
    """A collector configuration shipped with the package (``local``, ``gateway``, ``agent``)."""
    return collector_config_dir() / f"{name}.yaml"


def validate_collector_config(config: Path, env: Mapping[str, str] | None = None) -> None:
    """Run ``hms-otelcol validate`` on ``config``; raise :class:`ConfigInvalid` with its output."""
    if not Path(config).is_file():
        raise ConfigInvalid(f"{config}: no such file")
    proc = subprocess.run(
        [str(find_binary("hms-otelcol")), "validate", f"--config={config}"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if proc.returncode != 0:
        output = (proc.stderr + proc.stdout).strip().removeprefix("Error: ")
        raise ConfigInvalid(f"{config} is not a valid collector configuration:\n{output}")


class Service:
    """Shared start/stop plumbing; subclasses set ``name`` and build ``_argv()``/``_write_config()``."""

    name = "service"
    ready_path = "/-/ready"

    def __init__(self, workdir: Path, port: int, ready_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.ready_timeout = ready_timeout
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _write_config(self) -> None:  # pragma: no cover - overridden
        pass

    def _argv(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return {}

    def _ready_url(self) -> str:
        return self.url + self.ready_path

    @property
    def health_url(self) -> str:
        """The URL that answers 2xx while the service is healthy (readiness and ``hms-ops status``)."""
        return self._ready_url()

    @property
    def process(self) -> ManagedProcess | None:
        """The running process (after :meth:`prepare`); its PID and start time go into the state file."""
        return self._process

    def binary(self) -> Path:
        """The program this service runs; raises :class:`~hms_otel.stack.builds.MissingBinary`."""
        return Path(self._argv()[0])

    def prepare(self) -> ManagedProcess:
        """Write the configuration and set up the process without starting it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._process = ManagedProcess(
            self.name,
            self._argv(),
            log_path=self.log_path,
            env=self._env(),
            ready_url=self._ready_url(),
            ready_timeout=self.ready_timeout,
            cwd=self.workdir,
        )
        return self._process

    def start(self) -> None:
        """Write the configuration, start the process and wait until it is ready."""
        self.prepare().start()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        """SIGKILL at once (crash tests)."""
        if self._process is not None:
            self._process.kill()


class Collector(Service):
    """hms-otelcol running ``config`` (default collector-config/local.yaml) with HMS_* env vars for addresses."""

    name = "collector"
    ready_path = "/"

    def __init__(
        self,
        workdir: Path,
        *,
        config: Path | None = None,
        otlp_grpc_port: int,
        otlp_http_port: int,
        health_port: int,
        telemetry_port: int,
        remote_write_url: str,
        loki_otlp_url: str,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir, health_port, ready_timeout)
        self.config = Path(config) if config else collector_config_path("local")
        self.otlp_grpc_port = otlp_grpc_port
        self.otlp_http_port = otlp_http_port
        self.telemetry_port = telemetry_port
        self.remote_write_url = remote_write_url
        self.loki_otlp_url = loki_otlp_url
        self.extra_env = dict(env or {})

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.otlp_grpc_port}"

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://{HOST}:{self.otlp_http_port}"

    @property
    def storage_dir(self) -> Path:
        return self.workdir / "collector-storage"

    def env(self) -> dict[str, str]:
        """The HMS_* variables the shipped configs read, plus ``env`` given to the constructor."""
        return {
            "HMS_OTLP_GRPC_ENDPOINT": f"{HOST}:{self.otlp_grpc_port}",
            "HMS_OTLP_HTTP_ENDPOINT": f"{HOST}:{self.otlp_http_port}",
            "HMS_HEALTH_ENDPOINT": f"{HOST}:{self.port}",
            "HMS_COLLECTOR_TELEMETRY_PORT": str(self.telemetry_port),
            "HMS_COLLECTOR_STORAGE_DIR": str(self.storage_dir),
            "HMS_PROMETHEUS_REMOTE_WRITE_URL": self.remote_write_url,
            "HMS_LOKI_OTLP_URL": self.loki_otlp_url,
            **self.extra_env,
        }

    def _env(self) -> dict[str, str]:
        return self.env()

    def _write_config(self) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)

    def _argv(self) -> list[str]:
        return [str(find_binary("hms-otelcol")), f"--config={self.config.resolve()}"]


class Prometheus(Service):
    """Prometheus with its own TSDB, lifecycle API, remote-write receiver and generated prometheus.yml.

    ``rule_files`` are paths or globs; ``<workdir>/prometheus-rules/*.yml`` is
    always included, so compiled alert rules can be dropped there and loaded
    with :meth:`reload`.
    """

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        rule_files: Sequence[str | Path] = (),
        alertmanager_port: int | None = None,
        scrape_targets: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.rule_files = [
            str(Path(p).resolve()) if not any(c in str(p) for c in "*?[") else str(p) for p in rule_files
        ]
        self.alertmanager_port = alertmanager_port
        self.scrape_targets = dict(scrape_targets or {})

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def rules_dir(self) -> Path:
        return self.workdir / "prometheus-rules"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "prometheus-data"

    @property
    def consoles_dir(self) -> Path:
        """Console templates served at /consoles/ (the generated HMS layer page lives here)."""
        return self.workdir / "consoles"

    def config(self) -> dict[str, Any]:
        scrape = [{"job_name": "prometheus", "static_configs": [{"targets": [f"{HOST}:{self.port}"]}]}]
        scrape += [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in self.scrape_targets.items()
        ]
        config: dict[str, Any] = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.evaluation_interval},
            # Remote-written samples that arrive late (after an outage, a collector restart) are still accepted.
            "storage": {"tsdb": {"out_of_order_time_window": "30m"}},
            "rule_files": [str(self.rules_dir / "*.yml"), *self.rule_files],
            "scrape_configs": scrape,
        }
        if self.alertmanager_port:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{self.alertmanager_port}"]}]}]
            }
        return config

    def _write_config(self) -> None:
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        write_consoles(self.consoles_dir)

    def _argv(self) -> list[str]:
        return [
            str(find_binary("prometheus")),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={HOST}:{self.port}",
            "--web.enable-lifecycle",
            "--web.enable-remote-write-receiver",
            # Prometheus 2.42 forgets its Alertmanagers for up to 5 s after each /-/reload
            # (prometheus/prometheus#13064); an alert dropped then is re-sent after this delay
            # (default 1m), which would blow the one-minute paging budget.
            "--rules.alert.resend-delay=5s",
            f"--web.console.templates={self.consoles_dir}",
            f"--web.console.libraries={self.workdir / 'console_libraries'}",
        ]

    def reload(self) -> None:
        """POST /-/reload; raise :class:`ConfigInvalid` if Prometheus rejects the new rules/config."""
        try:
            http.request("POST", self.url + "/-/reload", timeout=30)
        except http.HTTPError as error:
            raise ConfigInvalid(f"Prometheus rejected the reload: {error}") from None

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query (at unix time ``at``, default now); the ``data.result`` vector list."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        answer = http.get_json(self.url + "/api/v1/query", params)
        return list(answer["data"]["result"])

    def query_range(self, promql: str, start: float, end: float, step: float = 1.0) -> list[dict[str, Any]]:
        """Range query; the ``data.result`` matrix (``[{"metric": {...}, "values": [[t, "v"], ...]}]``)."""
        answer = http.get_json(
            self.url + "/api/v1/query_range", {"query": promql, "start": start, "end": end, "step": step}
        )
        return list(answer["data"]["result"])


DEFAULT_ALERTMANAGER_CONFIG: dict[str, Any] = {
    "route": {"receiver": "default", "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
    "receivers": [{"name": "default"}],
}


class Alertmanager(Service):
    """Alertmanager 0.25 with clustering off, its own storage, and ``config`` (copied) or a do-nothing route."""

    name = "alertmanager"

    def __init__(self, workdir: Path, port: int, *, config: Path | None = None, ready_timeout: float = 60.0) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.source_config = Path(config) if config else None

    @property
    def config_path(self) -> Path:
        return self.workdir / "alertmanager.yml"

    def _write_config(self) -> None:
        (self.workdir / "alertmanager-data").mkdir(parents=True, exist_ok=True)
        if self.source_config is not None:
            self.config_path.write_text(self.source_config.read_text())
        elif not self.config_path.exists():
            self.config_path.write_text(yaml.safe_dump(DEFAULT_ALERTMANAGER_CONFIG, sort_keys=False))

    def _argv(self) -> list[str]:
        return [
            str(find_binary("prometheus-alertmanager")),
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--cluster.listen-address=",
        ]

    def reload(self) -> None:
        """POST /-/reload; raise :class:`ConfigInvalid` if Alertmanager rejects its config file."""
        try:
            http.request("POST", self.url + "/-/reload", timeout=30)
        except http.HTTPError as error:
            raise ConfigInvalid(f"Alertmanager rejected the reload: {error}") from None

    def alerts(self) -> list[dict[str, Any]]:
        """Current alerts from the v2 API."""
        return list(http.get_json(self.url + "/api/v2/alerts"))


#: Resource attributes Loki indexes as stream labels; everything else becomes structured metadata.
#: `level` is put on the resource by the collector (transform + groupbyattrs in local.yaml).
LOKI_INDEX_LABELS = ("service.name", "hms.layer", "level")


class Loki(Service):
    """Single-binary Loki: filesystem storage, in-memory ring, TSDB schema v13, OTLP at ``/otlp``."""

    name = "loki"
    ready_path = "/ready"

    def __init__(self, workdir: Path, port: int, grpc_port: int, ready_timeout: float = 90.0) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.grpc_port = grpc_port

    @property
    def otlp_url(self) -> str:
        return self.url + "/otlp"

    @property
    def config_path(self) -> Path:
        return self.workdir / "loki.yaml"

    def config(self) -> dict[str, Any]:
        data = self.workdir / "loki-data"
        return {
            "auth_enabled": False,
            "target": "all",
            "server": {
                "http_listen_address": HOST,
                "http_listen_port": self.port,
                "grpc_listen_address": HOST,
                "grpc_listen_port": self.grpc_port,
                "log_level": "warn",
            },
            "common": {
                "path_prefix": str(data),
                "instance_addr": HOST,
                "replication_factor": 1,
                "ring": {"kvstore": {"store": "inmemory"}},
                "storage": {
                    "filesystem": {"chunks_directory": str(data / "chunks"), "rules_directory": str(data / "rules")}
                },
            },
            "schema_config": {
                "configs": [
                    {
                        "from": "2024-01-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "ingester": {"lifecycler": {"min_ready_duration": "0s", "final_sleep": "0s"}},
            # Poll the scheduler ring every second, not every 10 s: /ready waits for that connection.
            "frontend": {"scheduler_dns_lookup_period": "1s"},
            "frontend_worker": {"dns_lookup_duration": "1s"},
            "limits_config": {
                "allow_structured_metadata": True,
                "otlp_config": {
                    "resource_attributes": {
                        # Loki's default list indexes k8s pod names and the like; index only ours.
                        "ignore_defaults": True,
                        "attributes_config": [{"action": "index_label", "attributes": list(LOKI_INDEX_LABELS)}],
                    }
                },
            },
            "analytics": {"reporting_enabled": False},
        }

    def _write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def _argv(self) -> list[str]:
        return [str(find_binary("loki")), f"-config.file={self.config_path}"]

    def query_range(self, logql: str, start_ns: int, end_ns: int, limit: int = 1000) -> list[dict[str, Any]]:
        """LogQL range query; ``data.result`` streams (``[{"stream": {...}, "values": [[ns, line, {meta}]]}]``)."""
        answer = http.get_json(
            self.url + "/loki/api/v1/query_range",
            {"query": logql, "start": start_ns, "end": end_ns, "limit": limit, "direction": "forward"},
        )
        return list(answer["data"]["result"])
