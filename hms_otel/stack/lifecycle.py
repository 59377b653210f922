"""The life of one ``hms-ops up`` stack: start, record, supervise, report status, stop.

:class:`Supervisor` starts a :class:`~hms_otel.stack.localstack.LocalStack`,
records every process it started (PID and start time) in the state folder,
compiles the user's alert folder into it in a child process, recompiles when a
file changes, and stops everything on SIGTERM/Ctrl-C or when a component dies.
:func:`status` and :func:`down` work from the state file alone, so they also
work after the supervisor was killed.

Everything here goes through ``stack.services`` (name, process, URL, health
URL) and the recorded :class:`~hms_otel.stack.state.ProcessRecord` list, so a
new component needs no change here.

The supervisor stays small at rest: no rich, no compiler, no file-watching
library; each alert rebuild runs in a short-lived child process.
"""

# No `from __future__ import annotations`: see "start-up" in hms_otel/stack/up.py.

import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from hms_otel.stack import state
from hms_otel.stack.localstack import LocalStack
from hms_otel.stack.processes import log_tail
from hms_otel.stack.state import ProcessRecord, StackState
from hms_otel.terminal import safe_name

if TYPE_CHECKING:
    from hms_otel.alerts.folder import RebuildReport

#: Folders ``hms-ops up`` looks for in the current folder, in this order.
ALERT_FOLDERS = ("alerts", "alert_rules")
#: What the printed graph link shows when no alert names a metric.
DEFAULT_GRAPH_METRIC = "payment_latency_ms"

Say = Callable[[str], None]


class AlertSource(NamedTuple):  # a named tuple, not a dataclass: see "start-up" in hms_otel/stack/up.py
    """Which alert folder a stack compiles, and why (printed at start); the folder may not exist yet."""

    path: Path
    reason: str


def choose_alert_folder(option: Path | None, examples: bool, cwd: Path | None = None) -> AlertSource:
    """``--alerts DIR``, else the shipped examples when asked, else ./alerts or ./alert_rules, else none."""
    from hms_otel.stack.packaged import example_alerts_dir

    if option is not None:
        return AlertSource(option, f"alerts: watching {option} (--alerts)")
    if examples:
        return AlertSource(example_alerts_dir(), "alerts: the project's example alerts (--demo/--examples)")
    here = cwd or Path.cwd()
    for name in ALERT_FOLDERS:
        if (here / name).is_dir():
            return AlertSource(here / name, f"alerts: watching ./{name}/")
    return AlertSource(
        here / ALERT_FOLDERS[0],
        "alerts: none yet: create ./alerts/ and drop an alert file in it (e.g. alerts/payment_latency.yaml "
        "with `metric: payment_latency_ms` and `when: avg_over_30s > 2000`); it is loaded while the stack runs",
    )


def first_alert_metric(folder: Path) -> str:
    """The metric to graph first: the tutorial's if an alert names it, else the first latency (``*_ms``)
    one, else the first named at all, else :data:`DEFAULT_GRAPH_METRIC`."""
    if not folder.is_dir():
        return DEFAULT_GRAPH_METRIC
    import re

    named: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".yml", ".yaml") and path.is_file():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            named += re.findall(r"^\s*metric:\s*([A-Za-z][\w.\-/]*)", text, re.M)
    if DEFAULT_GRAPH_METRIC in named:
        return DEFAULT_GRAPH_METRIC
    return next((name for name in named if name.endswith("_ms")), named[0] if named else DEFAULT_GRAPH_METRIC)


def graph_url(prometheus_url: str, expr: str) -> str:
    """Prometheus' graph page with ``expr`` filled in, on the graph tab, last 15 minutes."""
    query = urllib.parse.urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": "15m"})
    return f"{prometheus_url}/graph?{query}"


class Supervisor:
    """Runs one stack in the current process until stopped (``run``), keeping the state folder current."""

    def __init__(
        self,
        stack: LocalStack,
        alerts: AlertSource,
        *,
        alert_env: dict[str, str] | None = None,
        say: Say = print,
        extra_processes: Callable[[LocalStack], dict[str, subprocess.Popen[bytes]]] | None = None,
    ) -> None:
        self.stack = stack
        self.directory = stack.workdir
        self.alerts = alerts
        self.alert_env = alert_env or {}
        self.say = say
        self.extra_processes = extra_processes
        self._extras: dict[str, subprocess.Popen[bytes]] = {}
        self._rebuild: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self.started_in = 0.0

    # -- start ----------------------------------------------------------------------

    def start(self) -> StackState:
        """Start every component; return the recorded state once all are ready.

        Nothing else happens before that return: the caller reports readiness
        at once (the detaching `up` returns), and :meth:`supervise` then starts
        the alert builds and the console followers.
        """
        began = time.monotonic()
        self.stack.start(on_launch=self._on_launch, fork=True)
        if self.extra_processes is not None:
            self._extras = self.extra_processes(self.stack)
            if self._extras:  # their PIDs on disk before anything can go wrong
                self._record(ready=False)
        recorded = self._record(ready=True)
        self.started_in = time.monotonic() - began
        return recorded

    def _on_launch(self, stack: LocalStack) -> None:
        self._record(ready=False)  # PIDs on disk before anything can go wrong: `down` finds them

    def _record(self, ready: bool) -> StackState:
        components = []
        for service in self.stack.services:
            process = service.process
            if process is None or process.pid is None:
                continue
            components.append(
                ProcessRecord(service.name, process.pid, process.start_ticks, service.url, service.health_url,
                              str(service.log_path), dict(process.ready_headers or {}))
            )
        for name, extra in self._extras.items():
            components.append(ProcessRecord(name, extra.pid, _ticks(extra.pid)))
        recorded = StackState(state.this_process(), components, self.links(), ready)
        state.write(self.directory, recorded)
        return recorded

    def links(self) -> dict[str, str]:
        """What the user opens, in display order (printed by `up`, kept in the state file)."""
        stack = self.stack
        links = {
            "OTLP gRPC (OTEL_EXPORTER_OTLP_ENDPOINT)": stack.otlp_grpc_endpoint,
            "OTLP HTTP": stack.otlp_http_endpoint,
            "Prometheus graph": graph_url(stack.prometheus_url, first_alert_metric(self.alerts.path)),
            "HMS dashboard": stack.dashboard_url,
            "Alertmanager: alerts": stack.alertmanager.ui_url("alerts"),
            "Alertmanager: silences": stack.alertmanager.ui_url("silences"),
            "Alertmanager login (API and UI)": (
                f"user {stack.alertmanager_auth.username}  password {stack.alertmanager_auth.password}"
            ),
        }
        if stack.notifier is not None:
            links["notifier (Alertmanager webhooks)"] = f"{stack.notifier.url}/v1/alerts"
            links["texts not sent (no provider)"] = safe_name(str(stack.notifier.outbox_path))
        if stack.victorialogs is not None:
            links["Logs (search UI)"] = stack.victorialogs.ui_url
            links["Logs (terminal)"] = "hms-ops logs search TEXT --service S --since 10m"
        links["state and logs"] = safe_name(str(self.directory))
        return links

    # -- alerts -----------------------------------------------------------------------

    def _follow_alerts(self) -> None:
        """The first build, then one build per settled change of the folder, until stopped."""
        from hms_otel.alerts.folder import Snapshot, follow

        folder = self.alerts.path
        read = Snapshot.take(folder)
        first = self._build(force=True, first=True)
        follow(folder, lambda force, _still_current: self._build(force), stop=self._stop,
               echo=lambda text, _is_error: self.say(f"alerts: {text}"),
               built=None if first.stale or first.unwritten or first.reload_later else read)

    def _build(self, force: bool, first: bool = False) -> "RebuildReport":
        """One rebuild in a child process: compiler, promtool, amtool, the servers' reloads, dashboard.

        The child checks by itself that the files did not change while it compiled.
        """
        from hms_otel.alerts.folder import RebuildReport
        from hms_otel.stack import alert_sync

        stack = self.stack
        argv = [
            sys.executable, "-m", "hms_otel.stack.alert_sync",
            "--alerts", str(self.alerts.path),
            "--rules", str(stack.rules_dir / "hms-alerts.yml"),
            "--alertmanager-yml", str(stack.alertmanager_config_path),
            "--dashboard-dir", str(stack.dashboard_dir),
            "--alertmanager-url", stack.alertmanager_url,
            "--state", str(self.directory),
        ]
        if stack.notifier is not None:
            argv += ["--notifier-url", stack.notifier.url, "--notifier-token-file", str(stack.notifier.token_path),
                     "--notifier-journal", str(stack.notifier.journal_dir)]
        if stack.victorialogs is not None:
            argv += ["--logs-url", stack.victorialogs.ui_url]
        if first:
            argv.append("--first")
        if force:
            argv.append("--force")
        # Settings this stack implies (scrape interval); the user's environment wins.
        env = {**self.alert_env, **os.environ}
        self._rebuild = child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
        while child.poll() is None:
            if self._stop.wait(0.05):
                child.terminate()  # stopping: a compile of a pathological file must not hold `up`
                return RebuildReport(False, stale=True)
        code = child.returncode
        if code == alert_sync.STALE:
            return RebuildReport(False, stale=True)
        if code == alert_sync.UNWRITTEN:
            return RebuildReport(False, unwritten=True)
        if code == alert_sync.RELOAD_LATER:
            return RebuildReport(False, reload_later=True)
        return RebuildReport(code in (alert_sync.CHANGED, alert_sync.UNCHANGED))

    def _follow_notifier(self) -> None:
        """Print what the notifier says (texts as the phone shows them, delivery failures) on this console."""
        notifier = self.stack.notifier
        if notifier is None:
            return
        from hms_otel.terminal import safe_text

        path, say, stop = notifier.log_path, self.say, self._stop

        def run() -> None:
            with contextlib.suppress(OSError), path.open("r", encoding="utf-8", errors="replace") as log:
                log.seek(0, os.SEEK_END)
                while not stop.is_set():
                    line = log.readline()
                    if not line:
                        stop.wait(0.1)
                        continue
                    text = line.rstrip("\n")
                    if not text.startswith("=== "):  # the process layer's start marker
                        say(safe_text(text))

        threading.Thread(target=run, name="hms-notifier-console", daemon=True).start()

    def _copy_alert_sources(self, interval: float = 1.0) -> None:
        """Copy the probable sources the notifier journals beside the dashboard, once a second."""
        notifier = self.stack.notifier
        if notifier is None:
            return
        from hms_otel.dashboards.alert_sources import write_sources
        from hms_otel.outputs import OutputRefused

        journal, directory, stop = notifier.journal_dir, self.stack.dashboard_dir, self._stop

        def run() -> None:
            while not stop.wait(interval):
                # A full disk, or something not a file in the way: the page keeps the last sources.
                with contextlib.suppress(OSError, OutputRefused):
                    write_sources(directory, journal)

        threading.Thread(target=run, name="hms-dashboard-sources", daemon=True).start()

    # -- run ----------------------------------------------------------------------------

    def supervise(self, interval: float = 0.25) -> None:
        """Watch components and alert files until interrupted (KeyboardInterrupt: Ctrl-C, SIGTERM).

        A component that exits is reported once with the last lines of its log;
        the others keep running, ``hms-ops status`` shows it failed and
        ``hms-ops down`` (or Ctrl-C) stops the rest.
        """
        # The first build compiles the alerts and writes the recorded `<name>` series (about a second:
        # compile, promtool, amtool, reload); its lines show on the console. It starts only now that
        # the servers are ready: on a small machine it would take the CPU they need to start.
        threading.Thread(target=self._follow_alerts, name="hms-alerts", daemon=True).start()
        self._follow_notifier()
        self._copy_alert_sources()
        reported: set[str] = set()
        while True:
            time.sleep(interval)
            for service in self.stack.services:
                if not service.running and service.name not in reported:
                    reported.add(service.name)
                    code = service.process.returncode if service.process else None
                    tail = service.process.log_tail() if service.process else log_tail(service.log_path, 15)
                    self.say(
                        f"error: {service.name} exited (code {code}); the rest keeps running. "
                        f"Last lines of {safe_name(str(service.log_path))}:\n{tail}"
                    )

    def stop(self) -> None:
        """Stop the alert rebuild, extra processes and every component; forget the state. Safe to call twice."""
        self._stop.set()
        if self._rebuild is not None and self._rebuild.poll() is None:
            self._rebuild.terminate()
        for extra in self._extras.values():
            if extra.poll() is None:
                extra.terminate()
                try:
                    extra.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    extra.kill()
        try:
            self.stack.stop()
        finally:
            state.remove(self.directory)


def _ticks(pid: int) -> int | None:
    from hms_otel.stack.processes import process_start_ticks

    return process_start_ticks(pid)


# -- status and down, from the state file alone -------------------------------------------


class ComponentStatus(NamedTuple):
    name: str
    healthy: bool
    detail: str
    url: str


def status(directory: Path) -> tuple[StackState | None, list[ComponentStatus]]:
    """Each recorded component (and the supervisor): healthy when its process runs and its health URL answers;
    then the alert rules: healthy when the last build loaded them."""
    from hms_otel.http import ok

    recorded = state.read(directory)
    if recorded is None:
        return None, []
    state.check_owner(directory, recorded)  # a copy's file would report another folder's stack as this one
    rows = []
    supervisor = recorded.supervisor
    rows.append(ComponentStatus("hms-ops up", supervisor.alive,
                                f"PID {supervisor.pid}" if supervisor.alive else "not running", ""))
    for record in recorded.components:
        if not record.alive:
            rows.append(ComponentStatus(record.name, False, "not running", record.url))
        elif record.health_url and not ok(record.health_url, timeout=2, headers=record.health_headers or None):
            rows.append(ComponentStatus(record.name, False, f"not answering at {record.health_url}", record.url))
        else:
            rows.append(ComponentStatus(record.name, True, "healthy", record.url))
    alerts = state.read_alerts(directory)
    if alerts is not None:  # healthy servers may still run rules older than the alert folder
        rows.append(ComponentStatus("alerts", alerts.ok, alerts.detail, ""))
    return recorded, rows


class Stopped(NamedTuple):
    """What :func:`down` stopped, and why the state file is still there if it could not be removed."""

    processes: list[ProcessRecord]
    unremoved: OSError | None = None


def down(directory: Path, grace: float = 15.0) -> Stopped:
    """Stop exactly the processes the recorded stack started; return those that were still running.

    The supervisor is asked first (SIGTERM: it stops its components in order);
    whatever is still running afterwards, e.g. after the supervisor was killed
    with SIGKILL, is stopped by its recorded PID and start time. Nothing is
    signalled when the file is a copy of another folder's (:func:`state.check_owner`)
    or names PID 1 or this command's own ancestors.
    """
    recorded = state.read(directory)
    if recorded is None:
        return Stopped([])
    state.check_owner(directory, recorded)
    records = [recorded.supervisor, *recorded.components]
    protected = state.protected_records(records)
    if protected:
        names = ", ".join(f"{safe_name(record.name)} (PID {record.pid})" for record in protected)
        raise state.ForeignStateError(f"{safe_name(str(directory / state.STATE_FILE))} names {names}: PID 1 or "
                                      "this command's own ancestors, never the stack's; nothing was stopped")
    running = [record for record in records if record.alive]
    state.stop_processes([recorded.supervisor], grace=grace + 5)
    state.stop_processes(recorded.components, grace=grace)
    try:
        state.remove(directory)
    except OSError as error:  # a read-only folder: what was stopped must still be said
        return Stopped(running, error)
    return Stopped(running)
