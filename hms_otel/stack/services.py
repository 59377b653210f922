"""The four real backends as plain local processes: collector, Prometheus, Alertmanager, VictoriaLogs.

Each class writes its own configuration and data directory under ``workdir``,
listens on 127.0.0.1 only, and wraps a :class:`~hms_otel.stack.processes.ManagedProcess`
(``start()`` waits for readiness, ``stop()`` stops by PID). :class:`hms_otel.stack.localstack.LocalStack`
wires them together; use these directly only to run one backend alone.
"""

# No `from __future__ import annotations`: see "start-up" in hms_otel/stack/up.py.

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from hms_otel import http
from hms_otel.collector_flags import FEATURE_GATES
from hms_otel.errors import os_error_reason
from hms_otel.stack.builds import find_binary
from hms_otel.stack.packaged import collector_config_dir
from hms_otel.stack.processes import HOST, ManagedProcess, free_port, wait_until


def config_text(config: Mapping[str, Any]) -> str:
    """A generated server config, as JSON: valid YAML for every server, and written without loading a
    YAML library in ``hms-ops up`` before its servers start (that import is a tenth of its start-up)."""
    return json.dumps(config, indent=2) + "\n"


class ConfigInvalid(RuntimeError):
    """A configuration was rejected by the program that reads it; the message has its output."""


class ReloadUnanswered(ConfigInvalid):
    """A server did not answer while asked to reload (stopped, busy, gone meanwhile): it may not have read
    its files, and asking again later may work, where a rejected configuration stays rejected."""


#: Default alerts on the collector's own metrics (telemetry being lost), always loaded by the local Prometheus.
PIPELINE_ALERTS = collector_config_dir() / "collector-alerts.rules.yml"


def collector_config_path(name: str = "local") -> Path:
    """A collector configuration shipped with the package (``local``, ``gateway``, ``agent``)."""
    return collector_config_dir() / f"{name}.yaml"


def validate_collector_config(config: Path, env: Mapping[str, str] | None = None) -> None:
    """Run ``hms-otelcol validate`` on ``config``; raise :class:`ConfigInvalid` with its output."""
    if Path(config).is_dir():
        raise ConfigInvalid(f"{config} is a folder; give the collector config file (e.g. {config}/local.yaml)")
    if not Path(config).is_file():
        raise ConfigInvalid(f"{config}: no such file")
    proc = subprocess.run(
        [str(find_binary("hms-otelcol")), "validate", f"--config={config}", FEATURE_GATES],
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

    def _fork_target(self) -> Callable[[], None] | None:
        """For a Python server: what its ``argv`` runs, callable in a fork (``ManagedProcess.launch``)."""
        return None

    def _ready_url(self) -> str:
        return self.url + self.ready_path

    def _ready_headers(self) -> dict[str, str] | None:
        return None

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
            ready_headers=self._ready_headers(),
            fork_target=self._fork_target(),
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
        logs_otlp_url: str,
        spool_port: int | None = None,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir, health_port, ready_timeout)
        self.config = Path(config) if config else collector_config_path("local")
        self.otlp_grpc_port = otlp_grpc_port
        self.otlp_http_port = otlp_http_port
        self.telemetry_port = telemetry_port
        self.remote_write_url = remote_write_url
        self.logs_otlp_url = logs_otlp_url
        self.extra_env = dict(env or {})
        # Loopback port between the metrics spool and remote write (collector-config/local.yaml); a
        # LocalStack picks one none of its other ports uses.
        self.spool_port = spool_port or free_port(avoid=(otlp_grpc_port, otlp_http_port, health_port, telemetry_port))

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
            "HMS_LOGS_OTLP_URL": self.logs_otlp_url,
            "HMS_COLLECTOR_SPOOL_ENDPOINT": f"{HOST}:{self.spool_port}",
            **self.extra_env,
        }

    def _env(self) -> dict[str, str]:
        return self.env()

    def _write_config(self) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)

    def _argv(self) -> list[str]:
        return [str(find_binary("hms-otelcol")), f"--config={self.config.resolve()}", FEATURE_GATES]


def new_secret() -> str:
    """A random password or token: 128 bits in hex (safe in URLs, headers and YAML).

    ``os.urandom`` is where the secrets module takes its bytes; importing secrets
    loads OpenSSL for hmac, about 3 ms of `hms-ops up` before its first server.
    """
    return os.urandom(16).hex()


class BasicAuth(NamedTuple):  # a named tuple, not a dataclass: see "start-up" in hms_otel/stack/up.py
    """Credentials of the stack's Alertmanager API (generated per stack, printed by `hms-ops up`)."""

    username: str
    password: str

    @classmethod
    def generate(cls) -> "BasicAuth":
        return cls("hms-ops", new_secret())

    def header(self) -> dict[str, str]:
        return http.basic_auth(self.username, self.password)


def reload_prometheus(url: str, log_path: Path, send_hup: Callable[[], None], timeout: float = 30.0) -> None:
    """Have Prometheus at ``url`` reload (``send_hup`` sends it SIGHUP) and wait for its verdict.

    The verdict is a newer success timestamp in its metrics, or a new "Error
    reloading config" in its log at ``log_path``; raise :class:`ConfigInvalid`
    if it kept the old config, :class:`ReloadUnanswered` if it could not be asked
    or gave no verdict. Also run by the alert build's child process
    (:mod:`hms_otel.stack.alert_sync`), which knows Prometheus from the state file.
    """

    def last_success() -> float:
        try:
            text = http.request("GET", url + "/metrics", timeout=10).decode()
        except http.HTTPError as error:  # stopped (SIGSTOP), or gone: the reload is not known to have happened
            raise ReloadUnanswered(f"Prometheus does not answer ({error}); its rules were not reloaded") from None
        match = _RELOAD_SUCCESS.search(text)
        return float(match.group(1)) if match else 0.0

    def reload_errors() -> list[str]:
        try:
            text = log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if 'msg="Error reloading config"' in line]

    before = last_success()
    errors_before = len(reload_errors())
    # The success timestamp has whole seconds: signal in a later second than the last success.
    while int(time.time()) <= before:
        time.sleep(0.05)
    try:
        send_hup()
    except OSError as error:  # exited since it was found running
        raise ReloadUnanswered(f"Prometheus could not be signalled ({os_error_reason(error)}); its rules were "
                               "not reloaded") from None
    if not wait_until(lambda: last_success() > before or len(reload_errors()) > errors_before, timeout, interval=0.1):
        raise ReloadUnanswered(f"Prometheus did not finish reloading within {timeout:.0f} s; log {log_path}")
    errors = reload_errors()
    if len(errors) > errors_before and last_success() <= before:
        detail = errors[-1].partition(" err=")[2] or errors[-1]
        raise ConfigInvalid(f"Prometheus rejected the reload and keeps its previous configuration: {detail}")


def reload_alertmanager(url: str, headers: Mapping[str, str]) -> None:
    """POST /-/reload; raise :class:`ConfigInvalid` if Alertmanager rejects its config file,
    :class:`ReloadUnanswered` if it does not answer."""
    try:
        http.request("POST", url + "/-/reload", timeout=30, headers=dict(headers))
    except http.HTTPError as error:
        if error.status is None:
            raise ReloadUnanswered(f"Alertmanager does not answer ({error}); its routes were not reloaded") from None
        raise ConfigInvalid(f"Alertmanager rejected the reload: {error}") from None


def _glob_literal(path: Path) -> str:
    """``path`` as a Prometheus ``rule_files`` entry that matches only itself: Prometheus reads every
    entry as a glob, so a folder named ``runs[1]`` would match no file, without an error."""
    return re.sub(r"([*?\[\\])", r"\\\1", str(path))


class Prometheus(Service):
    """Prometheus with its own TSDB, remote-write receiver and generated prometheus.yml.

    Its lifecycle endpoints are off (no local process may reload or stop it over
    HTTP): :meth:`reload` sends SIGHUP and reads the outcome from its own
    metrics. The query API and UI stay open on loopback.

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
        alertmanager_auth: BasicAuth | None = None,
        scrape_targets: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.alertmanager_auth = alertmanager_auth
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
    def user_assets_dir(self) -> Path:
        """Static files Prometheus serves under /user/, same origin as its API: the HMS dashboard."""
        return self.workdir / "user-assets"

    def config(self) -> dict[str, Any]:
        scrape = [{"job_name": "prometheus", "static_configs": [{"targets": [f"{HOST}:{self.port}"]}]}]
        scrape += [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in self.scrape_targets.items()
        ]
        config: dict[str, Any] = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.evaluation_interval},
            # Remote-written samples that arrive late (after an outage, a collector restart) are still accepted.
            "storage": {"tsdb": {"out_of_order_time_window": "30m"}},
            # Relative to the config file's folder, which _argv() makes Prometheus' working folder: each
            # entry is a glob, and the state folder's own name may hold `[`, `?` or `*` (rejected outright
            # in a folder part of a rule path).
            "rule_files": [f"{self.rules_dir.name}/*.yml", _glob_literal(PIPELINE_ALERTS), *self.rule_files],
            "scrape_configs": scrape,
        }
        if self.alertmanager_port:
            target: dict[str, Any] = {"static_configs": [{"targets": [f"{HOST}:{self.alertmanager_port}"]}]}
            if self.alertmanager_auth is not None:
                target["basic_auth"] = {"username": self.alertmanager_auth.username,
                                        "password_file": str(self.alertmanager_password_path)}
            config["alerting"] = {"alertmanagers": [target]}
        return config

    @property
    def alertmanager_password_path(self) -> Path:
        return self.workdir / "alertmanager-password"

    def _write_config(self) -> None:
        if self.alertmanager_auth is not None:
            _write_secret(self.alertmanager_password_path, self.alertmanager_auth.password)
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config_text(self.config()))
        self.user_assets_dir.mkdir(parents=True, exist_ok=True)

    def _argv(self) -> list[str]:
        return [
            str(find_binary("prometheus")),
            f"--config.file={self.config_path.name}",  # in its folder (cwd), so its rule_files can be relative
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={HOST}:{self.port}",
            # No --web.enable-lifecycle: reloads are by SIGHUP, so no local process can stop it over HTTP.
            "--web.enable-remote-write-receiver",
            # Prometheus 2.42 forgets its Alertmanagers for up to 5 s after each /-/reload
            # (prometheus/prometheus#13064); an alert dropped then is re-sent after this delay
            # (default 1m), which would blow the one-minute paging budget.
            "--rules.alert.resend-delay=5s",
            f"--web.user-assets={self.user_assets_dir}",
        ]

    def reload(self, timeout: float = 30.0) -> None:
        """SIGHUP and wait for Prometheus' verdict (:func:`reload_prometheus`)."""
        process = self._process
        if process is None or not process.running:
            raise ConfigInvalid("Prometheus is not running; nothing to reload")
        reload_prometheus(self.url, self.log_path, lambda: process.signal(signal.SIGHUP), timeout)

    def reload_outcome(self) -> str:
        """:meth:`reload` as "ok" or the reason (for the alert watcher)."""
        try:
            self.reload()
        except ConfigInvalid as error:
            return str(error)
        return "ok"

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
    """Alertmanager (v0.31.1 from the cache) with clustering off, its own storage, ``config`` (copied)
    or a do-nothing route, and with ``auth`` its whole HTTP API behind basic auth (a web config file):
    only Prometheus and the people it is printed for can post alerts or silences."""

    name = "alertmanager"

    def __init__(self, workdir: Path, port: int, *, config: Path | None = None, auth: BasicAuth | None = None,
                 ready_timeout: float = 60.0) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.source_config = Path(config) if config else None
        self.auth = auth

    @property
    def web_config_path(self) -> Path:
        return self.workdir / "web.yml"

    def headers(self) -> dict[str, str]:
        return self.auth.header() if self.auth else {}

    def ui_url(self, page: str = "alerts") -> str:
        """The UI page (``alerts``, ``silences``) with the login in the URL: one click in a browser."""
        login = f"{self.auth.username}:{self.auth.password}@" if self.auth else ""
        return f"http://{login}{HOST}:{self.port}/#/{page}"

    def _ready_headers(self) -> dict[str, str] | None:
        return self.headers() or None

    @property
    def config_path(self) -> Path:
        return self.workdir / "alertmanager.yml"

    def _write_config(self) -> None:
        (self.workdir / "alertmanager-data").mkdir(parents=True, exist_ok=True)
        if self.source_config is not None:
            self.config_path.write_text(self.source_config.read_text())
        elif not self.config_path.exists():
            self.config_path.write_text(config_text(DEFAULT_ALERTMANAGER_CONFIG))
        if self.auth is not None:
            import bcrypt  # only stacks with credentials need it

            # The password is a random 144-bit token: no guessing to slow down, so the cheapest cost
            # (4) is as safe and keeps Alertmanager from spending ~50 ms of CPU on every request.
            hashed = bcrypt.hashpw(self.auth.password.encode(), bcrypt.gensalt(rounds=4)).decode()
            _write_secret(self.web_config_path,
                          config_text({"basic_auth_users": {self.auth.username: hashed}}))

    def _argv(self) -> list[str]:
        argv = [
            str(find_binary("alertmanager")),
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--cluster.listen-address=",
        ]
        if self.auth is not None:
            argv.append(f"--web.config.file={self.web_config_path}")
        return argv

    def reload(self) -> None:
        """POST /-/reload (:func:`reload_alertmanager`)."""
        reload_alertmanager(self.url, self.headers())

    def reload_outcome(self) -> str:
        try:
            self.reload()
        except ConfigInvalid as error:
            return str(error)
        return "ok"

    def alerts(self) -> list[dict[str, Any]]:
        """Current alerts from the v2 API."""
        return list(http.get_json(self.url + "/api/v2/alerts", headers=self.headers()))


class Notifier(Service):
    """The HMS notifier (``hms-ops notifier``) as a process of the stack: its own port, token file,
    journal and outbox under ``workdir``; providers come from the environment."""

    name = "notifier"

    def __init__(self, workdir: Path, port: int, *, log_store_url: str = "",
                 env: Mapping[str, str] | None = None, ready_timeout: float = 30.0) -> None:
        super().__init__(workdir, port, ready_timeout)
        self.log_store_url = log_store_url
        self.extra_env = dict(env or {})
        self.token = new_secret()

    @property
    def journal_dir(self) -> Path:
        """Where the notifier journals every message, with the probable source it found."""
        return self.state_dir / "journal"

    @property
    def token_path(self) -> Path:
        return self.workdir / "token"

    @property
    def config_path(self) -> Path:
        return self.workdir / "notifier.yml"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.txt"

    def _write_config(self) -> None:
        if self.token_path.is_file():  # a restarted notifier keeps the token Alertmanager already has
            self.token = self.token_path.read_text().strip() or self.token
        _write_secret(self.token_path, self.token)
        # The token file and state folder go in _env(), not here: a file's values are checked for
        # `$NAME` that a user expected to be expanded, and a state folder may hold a literal `$`.
        config = {"listen": f"{HOST}:{self.port}"}
        if self.log_store_url:
            config["log_store"] = self.log_store_url
        self.config_path.write_text(config_text(config))

    def _env(self) -> dict[str, str]:
        # The stack's own settings win over variables a user has for a production notifier.
        overridden = ("HMS_NOTIFIER_LISTEN", "HMS_NOTIFIER_TOKEN", "HMS_LOGSTORE_URL")
        return {**{name: "" for name in overridden}, "HMS_NOTIFIER_TOKEN_FILE": str(self.token_path),
                "HMS_NOTIFIER_STATE": str(self.state_dir), "PYTHONUNBUFFERED": "1", **self.extra_env}

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "hms_otel.cli", "notifier", f"--config={self.config_path}"]

    def _fork_target(self) -> Callable[[], None]:
        return functools.partial(_serve_notifier, self.config_path)


def _serve_notifier(config_path: Path) -> None:
    """``hms-ops notifier --config FILE`` without the CLI, in a child forked by ``hms-ops up``."""
    from hms_otel.notify.config import ConfigError
    from hms_otel.notify.server import serve

    try:
        serve(config_path)
    except ConfigError as error:
        sys.exit(f"Error: {error}")  # as click words it for `hms-ops notifier`


def _write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(text)
    os.chmod(path, 0o600)


_RELOAD_SUCCESS = re.compile(r"^prometheus_config_last_reload_success_timestamp_seconds (\S+)$", re.M)


class VictoriaLogs(Service):
    """VictoriaLogs single node: one data directory, OTLP logs in, LogsQL and its web UI out.

    Which fields become stream fields (its index) is chosen per request by the
    sender (the collector's ``VL-Stream-Fields`` header in collector-config/local.yaml),
    so there is no configuration file.
    """

    name = "victorialogs"
    ready_path = "/health"

    def __init__(self, workdir: Path, port: int, ready_timeout: float = 60.0) -> None:
        super().__init__(workdir, port, ready_timeout)

    @property
    def otlp_url(self) -> str:
        """Base URL for an ``otlp_http`` exporter (it appends ``/v1/logs``)."""
        return self.url + "/insert/opentelemetry"

    @property
    def ui_url(self) -> str:
        """The log-search web UI it serves."""
        return self.url + "/select/vmui/"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "victorialogs-data"

    @property
    def url_file(self) -> Path:
        """Where the address is recorded for `hms-ops logs` (which finds the log store through it)."""
        return self.workdir / "url"

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.url_file.write_text(self.url + "\n")

    def _env(self) -> dict[str, str]:
        # A soft limit on Go's heap: it collects and returns memory to stay near it. With the caches capped
        # (-memory.allowedBytes, then 4 MiB) the store rested at 21-24 MiB RSS (12 MiB of it the binary) holding 100k
        # records, 80-87 MiB without both (benchmarks/bench_logstore.py). It is soft: a bigger working set
        # still gets the memory.
        # A GOMEMLIMIT in the environment wins.
        return {} if "GOMEMLIMIT" in os.environ else {"GOMEMLIMIT": "16MiB"}

    def _argv(self) -> list[str]:
        return [
            str(find_binary("victoria-logs")),
            f"-httpListenAddr={HOST}:{self.port}",
            f"-storageDataPath={self.data_dir}",
            "-loggerLevel=WARN",
            # Its caches default to a share of the machine's memory; a local store needs little. Not less:
            # a query's `stats`/`sort` state may use 40% of this, and at 4 MiB a count over a few thousand
            # records was refused ("requires more than 1MB of memory").
            "-memory.allowedBytes=32MiB",
        ]
