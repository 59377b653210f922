"""hms-ops up --detach / status / down: the stack's lifecycle, with the real servers on free ports."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel import http
from hms_otel.stack import Ports, collector_config_path, state
from hms_otel.stack.processes import is_same_process, process_start_ticks, wait_until

#: The console script's entry point, as `hms-ops` runs it (plain `up` arguments skip click there).
HMS_OPS = [sys.executable, "-c", "from hms_otel.tooling import main; main()"]


def hms_ops(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HMS_OPS, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


@dataclasses.dataclass
class Started:
    folder: Path
    state_dir: Path
    ports: Ports
    output: str

    def recorded(self) -> state.StackState:
        recorded = state.read(self.state_dir)
        assert recorded is not None, f"no state file in {self.state_dir}"
        return recorded


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Started]]:
    """Stacks a test started; whatever it leaves is stopped by recorded PID (and checked gone)."""
    started: list[Started] = []
    yield started
    for item in started:
        recorded = state.read(item.state_dir)
        hms_ops("down", "--state", str(item.state_dir), cwd=item.folder)
        if recorded is not None:
            state.stop_processes([recorded.supervisor, *recorded.components], grace=5)


def up_detached(stacks: list[Started], folder: Path, *extra: str, expect_ok: bool = True,
                env: dict[str, str] | None = None, ports: Ports | None = None) -> Started:
    folder.mkdir(parents=True, exist_ok=True)
    ports = ports or Ports.free()
    state_dir = folder / ".hms-ops"
    done = hms_ops("up", "--detach", *ports.as_options(), *extra, cwd=folder, env=env)
    started = Started(folder, state_dir, ports, done.stdout + done.stderr)
    stacks.append(started)
    if expect_ok:
        assert done.returncode == 0, started.output
    else:
        assert done.returncode != 0, started.output
    assert "Traceback" not in started.output
    return started


def all_gone(records: list[state.ProcessRecord]) -> bool:
    return not any(is_same_process(record.pid, record.start_ticks) for record in records)


@pytest.mark.e2e
def test_detach_returns_ready_with_urls_then_status_and_down(tmp_path: Path, stacks: list[Started]) -> None:
    started = up_detached(stacks, tmp_path / "app")
    ports = started.ports
    assert f"http://127.0.0.1:{ports.otlp_grpc}" in started.output
    assert f"http://127.0.0.1:{ports.prometheus}/graph?g0.expr=payment_latency_ms&g0.tab=0" in started.output
    assert "alerts: none yet" in started.output and "./alerts/" in started.output
    recorded = started.recorded()
    assert recorded.ready and {"prometheus", "alertmanager", "collector"} <= {c.name for c in recorded.components}
    # Ready means ready: every server answers right away.
    status = hms_ops("status", cwd=started.folder)  # the default state folder is ./.hms-ops
    assert status.returncode == 0, status.stdout + status.stderr
    for component in recorded.components:
        assert component.name in status.stdout
    assert f"http://127.0.0.1:{ports.prometheus}" in status.stdout

    stopped = hms_ops("down", cwd=started.folder)
    assert stopped.returncode == 0, stopped.stderr
    assert "prometheus" in stopped.stdout
    records = [recorded.supervisor, *recorded.components]
    assert wait_until(lambda: all_gone(records), timeout=30, interval=0.2), "a process of the stack survived down"
    assert state.read(started.state_dir) is None
    again = hms_ops("status", cwd=started.folder)
    assert again.returncode == 1 and "no stack is running" in again.stderr


@pytest.mark.e2e
def test_status_fails_and_names_a_killed_component(tmp_path: Path, stacks: list[Started]) -> None:
    started = up_detached(stacks, tmp_path / "app")
    prometheus = next(c for c in started.recorded().components if c.name == "prometheus")
    os.kill(prometheus.pid, signal.SIGKILL)
    assert wait_until(lambda: not prometheus.alive, timeout=10, interval=0.1)
    status = hms_ops("status", "--state", str(started.state_dir), cwd=tmp_path)
    assert status.returncode == 1, status.stdout
    assert "FAIL prometheus" in status.stdout and "not healthy: prometheus" in status.stderr
    assert "ok   collector" in status.stdout
    # The supervisor said so on its console, with the log's last lines.
    console = (started.state_dir / state.CONSOLE_LOG)
    assert wait_until(lambda: "prometheus exited" in console.read_text(), timeout=10, interval=0.2)


@pytest.mark.e2e
def test_down_after_the_supervisor_was_killed_stops_exactly_the_stack(tmp_path: Path, stacks: list[Started]) -> None:
    started = up_detached(stacks, tmp_path / "app")
    recorded = started.recorded()
    # An unrelated process down must not touch, started before the kill.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        os.kill(recorded.supervisor.pid, signal.SIGKILL)
        assert wait_until(lambda: not recorded.supervisor.alive, timeout=10, interval=0.1)
        stopped = hms_ops("down", "--state", str(started.state_dir), cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert wait_until(lambda: all_gone(recorded.components), timeout=30, interval=0.2)
        assert state.read(started.state_dir) is None
        assert bystander.poll() is None, "down stopped a process that was not the stack's"
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.e2e
def test_a_damaged_state_file_of_a_running_stack_is_named_and_down_still_stops_it(
    tmp_path: Path, stacks: list[Started]
) -> None:
    """`status` said "no stack is running" and `down` "nothing to stop" (exit 0) while the stack ran on."""
    started = up_detached(stacks, tmp_path / "app")
    recorded = started.recorded()
    state_file = started.state_dir / state.STATE_FILE
    state_file.write_text(state_file.read_text()[:40])  # truncated
    try:
        status = hms_ops("status", "--state", str(started.state_dir), cwd=tmp_path)
        assert status.returncode == 1
        assert f"{state_file}: not a stack state file" in status.stderr
        assert f"hms-ops up (PID {recorded.supervisor.pid}) still runs" in status.stderr
        stopped = hms_ops("down", "--state", str(started.state_dir), cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped: hms-ops up (PID {recorded.supervisor.pid})" in stopped.stdout
        assert wait_until(lambda: all_gone([recorded.supervisor, *recorded.components]), timeout=30, interval=0.2)
    finally:
        state.stop_processes([recorded.supervisor, *recorded.components], grace=5)


@pytest.mark.parametrize("content", [
    "", "{", '{"supervisor": {"name": "hms-ops up", "pid": -1, "start_ticks": null}, "components": []}',
    '{"supervisor": {"name": "hms-ops up", "pid": "1", "start_ticks": 1}, "components": []}',
    '{"supervisor": 1, "components": []}', "[]",
])
def test_a_damaged_state_file_without_a_stack_is_named_by_status_and_down(tmp_path: Path, content: str) -> None:
    (tmp_path / state.STATE_FILE).write_text(content)
    for command in ("status", "down"):
        done = hms_ops(command, "--state", str(tmp_path), cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert f"{tmp_path / state.STATE_FILE}: not a stack state file" in done.stderr
        assert "Traceback" not in done.stderr
    assert (tmp_path / state.STATE_FILE).read_text() == content  # kept: it is evidence, not ours to delete


def test_a_reused_pid_is_not_taken_for_the_recorded_process() -> None:
    me = state.this_process()
    assert me.alive
    assert not state.ProcessRecord("x", me.pid, (me.start_ticks or 0) + 1).alive
    assert process_start_ticks(2**22 + 12345) is None


@pytest.mark.e2e
def test_second_up_on_the_same_state_says_where_it_runs(tmp_path: Path, stacks: list[Started]) -> None:
    first = up_detached(stacks, tmp_path / "app")
    again = hms_ops("up", "--detach", *Ports.free().as_options(), cwd=first.folder)
    assert again.returncode == 1
    assert "already running" in again.stderr and str(first.state_dir) in again.stderr
    assert f"http://127.0.0.1:{first.ports.prometheus}" in again.stderr
    assert "Traceback" not in again.stderr
    assert hms_ops("status", cwd=first.folder).returncode == 0  # the first one is untouched


def test_every_port_in_use_and_missing_binary_in_one_message(tmp_path: Path) -> None:
    with socket.socket() as one, socket.socket() as two:
        for sock in (one, two):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        ports = Ports.free()._replace(prometheus=one.getsockname()[1], otlp_grpc=two.getsockname()[1])
        done = hms_ops("up", "--detach", "--no-logs", *ports.as_options(), cwd=tmp_path,
                       env={"HMS_OPS_ALERTMANAGER": str(tmp_path / "no-such-alertmanager"),
                            "HMS_OPS_CACHE": str(tmp_path / "empty-cache")})
    output = done.stderr
    assert done.returncode == 1, done.stdout
    assert "4 problems" in output
    assert "hms-otelcol not found" in output
    assert f"port {ports.prometheus} (prometheus)" in output and "--prometheus-port" in output
    assert f"port {ports.otlp_grpc} (otlp grpc)" in output and "--otlp-grpc-port" in output
    assert "alertmanager not found" in output and "no-such-alertmanager" in output
    assert output.count("Error:") == 1 and "Traceback" not in output
    assert not (tmp_path / ".hms-ops" / "prometheus").exists(), "something started anyway"


def test_a_port_given_to_two_servers_is_refused_before_anything_starts(tmp_path: Path, stacks: list[Started]) -> None:
    """Alertmanager could not bind, yet Prometheus answered its readiness probe: `up` said ready."""
    ports = Ports.free()
    ports = ports._replace(alertmanager=ports.prometheus)
    started = up_detached(stacks, tmp_path, "--no-logs", ports=ports, expect_ok=False)
    assert f"port {ports.prometheus} is given to both prometheus and alertmanager" in started.output
    assert "--alertmanager-port" in started.output and "Traceback" not in started.output
    assert not (tmp_path / ".hms-ops" / "prometheus").exists(), "something started anyway"


@pytest.mark.parametrize("where", ["state", "cwd", "config"])
def test_a_path_that_is_not_utf8_is_refused_before_anything_starts(tmp_path: Path, where: str) -> None:
    """It reached the servers' config files and logs and ended in an internal error (UnicodeEncodeError);
    detached, in a silent "the stack exited while starting" with an empty log."""
    odd = os.fsdecode(bytes(tmp_path / "odd") + b"\xff")
    os.mkdir(odd)
    config = os.path.join(odd, "local.yaml")
    Path(config).write_text(collector_config_path("local").read_text())
    args = {"state": ["--state", os.path.join(odd, "state")], "cwd": [], "config": ["--config", config]}[where]
    cwd = Path(odd) if where == "cwd" else tmp_path
    done = hms_ops("up", "--detach", "--no-logs", *args, *Ports.free().as_options(), cwd=cwd)
    assert done.returncode == 1, done.stdout
    assert "is not UTF-8 text" in done.stderr and repr(os.fsencode(odd))[2:-1] in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert not list(tmp_path.rglob("prometheus")), "something started anyway"


def test_a_bug_in_the_detached_supervisor_is_reported_with_where_its_traceback_is(tmp_path: Path) -> None:
    """The forked supervisor ended in os._exit, which dropped the exception: nothing said what happened."""
    from hms_otel.stack import up

    def broken(_report: object) -> int:
        raise ZeroDivisionError("the bug")

    with pytest.raises(up.SupervisorBug, match="ZeroDivisionError: the bug; the traceback is in"):
        up._detach_and_report(tmp_path, broken)
    assert "ZeroDivisionError: the bug" in (tmp_path / state.CONSOLE_LOG).read_text()


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    done = hms_ops("up", "--no-logs", *Ports.free().as_options(), cwd=tmp_path,
                   env={"HMS_OPS_CACHE": str(tmp_path / "empty-cache")})
    assert done.returncode == 1
    assert "hms-otelcol not found" in done.stderr and "hms-ops install collector" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.e2e
def test_a_component_that_dies_at_start_shows_its_last_log_lines(tmp_path: Path, stacks: list[Started]) -> None:
    bad = tmp_path / "bad-collector.yaml"
    bad.write_text(
        "receivers:\n  no_such_receiver: {}\nexporters:\n  debug: {}\n"
        "service:\n  pipelines:\n    metrics:\n      receivers: [no_such_receiver]\n      exporters: [debug]\n"
    )
    started = up_detached(stacks, tmp_path / "app", "--config", str(bad), expect_ok=False)
    assert "collector exited with code" in started.output
    assert "no_such_receiver" in started.output  # from the collector's own log
    assert state.read(started.state_dir) is None  # the others were stopped again


@pytest.mark.e2e
def test_fresh_starts_from_empty_data(tmp_path: Path, stacks: list[Started]) -> None:
    first = up_detached(stacks, tmp_path / "app")
    marker = first.state_dir / "prometheus" / "prometheus-data" / "marker"
    marker.write_text("old data")
    assert hms_ops("down", cwd=first.folder).returncode == 0
    up_detached(stacks, tmp_path / "app", "--fresh")
    assert not marker.exists()


@pytest.mark.e2e
def test_an_alerts_folder_created_while_running_is_picked_up(tmp_path: Path, stacks: list[Started]) -> None:
    started = up_detached(stacks, tmp_path / "app")
    assert "create ./alerts/" in started.output
    (started.folder / "alerts").mkdir()
    (started.folder / "alerts" / "payment_latency.yaml").write_text(
        "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n"
    )
    console = started.state_dir / state.CONSOLE_LOG
    assert wait_until(lambda: "alerts: loaded" in console.read_text(), timeout=60, interval=0.2), (
        console.read_text()
    )
    text = console.read_text()
    assert text.index(f"1 alert from {started.folder / 'alerts'} compiled") < text.index("alerts: loaded")
    rules = started.state_dir / "prometheus" / "prometheus-rules" / "hms-alerts.yml"
    assert "payment_latency" in rules.read_text()
    # The build's child process compiled and reloaded: the supervisor never loaded an HTTP client (OpenSSL).
    recorded = state.read(started.state_dir)
    assert recorded is not None
    maps = Path(f"/proc/{recorded.supervisor.pid}/maps").read_text()
    assert "libssl" not in maps and "libcrypto" not in maps


def prometheus_rules(port: int) -> dict[str, str]:
    """Alert name -> query of every alerting rule Prometheus at ``port`` runs."""
    import json

    answer = json.loads(http.request("GET", f"http://127.0.0.1:{port}/api/v1/rules", timeout=5))
    return {rule["name"]: rule["query"] for group in answer["data"]["groups"] for rule in group["rules"]
            if rule["type"] == "alerting"}


@pytest.mark.e2e
def test_an_edit_saved_while_prometheus_does_not_answer_is_loaded_once_it_answers(
        tmp_path: Path, stacks: list[Started]) -> None:
    folder = tmp_path / "app"
    (folder / "alerts").mkdir(parents=True)
    alert = folder / "alerts" / "payment_latency.yaml"
    alert.write_text("metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    started = up_detached(stacks, folder)
    console = started.state_dir / state.CONSOLE_LOG
    assert wait_until(lambda: "alerts: loaded" in console.read_text(), timeout=60, interval=0.2), console.read_text()
    prometheus = next(c for c in started.recorded().components if c.name == "prometheus")
    os.kill(prometheus.pid, signal.SIGSTOP)  # busy or hung: alive, but no answer
    try:
        alert.write_text("metric: payment_latency_ms\nwhen: avg_over_30s > 3000\naction: sms:+15551234\n")
        assert wait_until(lambda: "reload of Prometheus failed" in console.read_text(), timeout=60, interval=0.2), (
            console.read_text())
    finally:
        os.kill(prometheus.pid, signal.SIGCONT)
    # Nothing is saved again: the build asks again by itself, and the edit reaches Prometheus.
    assert wait_until(lambda: prometheus_rules(started.ports.prometheus)["payment_latency"].endswith("> 3000"),
                      timeout=60, interval=0.2), console.read_text()
    text = console.read_text()
    assert "Prometheus does not answer" in text and "Traceback" not in text, text


@pytest.mark.e2e
def test_rules_of_a_first_build_prometheus_did_not_answer_are_loaded_once_it_answers(
        tmp_path: Path, stacks: list[Started]) -> None:
    folder = tmp_path / "app"
    (folder / "alerts").mkdir(parents=True)
    (folder / "alerts" / "payment_latency.yaml").write_text(
        "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    started = up_detached(stacks, folder)  # returns once the servers are ready, before the first build
    prometheus = next(c for c in started.recorded().components if c.name == "prometheus")
    os.kill(prometheus.pid, signal.SIGSTOP)
    console = started.state_dir / state.CONSOLE_LOG
    try:
        assert wait_until(lambda: "reload of Prometheus failed" in console.read_text(), timeout=60, interval=0.2), (
            console.read_text())
    finally:
        os.kill(prometheus.pid, signal.SIGCONT)
    assert wait_until(lambda: "payment_latency" in prometheus_rules(started.ports.prometheus), timeout=60,
                      interval=0.2), console.read_text()


def prometheus_rule_names(port: int) -> set[str]:
    """Every rule (alerting or recording) Prometheus at ``port`` runs."""
    import json

    answer = json.loads(http.request("GET", f"http://127.0.0.1:{port}/api/v1/rules", timeout=5))
    return {rule["name"] for group in answer["data"]["groups"] for rule in group["rules"]}


@pytest.mark.e2e
def test_a_broken_alert_file_at_start_still_loads_the_recorded_series_and_claims_no_rules(
        tmp_path: Path, stacks: list[Started]) -> None:
    folder = tmp_path / "app"
    (folder / "alerts").mkdir(parents=True)
    broken = folder / "alerts" / "payment_latency.yaml"
    broken.write_text("metric: payment_latency_ms\nwhen: avg_over_30q > 2000\naction: sms:+15551234\n")
    started = up_detached(stacks, folder)
    console = started.state_dir / state.CONSOLE_LOG
    assert wait_until(lambda: "alert files have errors" in console.read_text(), timeout=60, interval=0.2), (
        console.read_text())
    # The graph link `up` printed shows the recorded series, whatever the alert files hold.
    assert wait_until(lambda: "payment_latency_ms" in prometheus_rule_names(started.ports.prometheus),
                      timeout=30, interval=0.2), console.read_text()
    text = console.read_text()
    assert "payment_latency.yaml:2:16: bad duration '30q'" in text
    assert "no alert rules are loaded until this is fixed" in text, text
    assert "alerts: loaded" not in text and "previous rules" not in text, text
    # Healthy servers, but not running what the folder says: status fails and says why.
    status = hms_ops("status", cwd=folder)
    assert status.returncode == 1, status.stdout
    assert ("FAIL alerts" in status.stdout and "payment_latency.yaml:2:16: bad duration '30q'" in status.stdout
            and "no alert rules are loaded until this is fixed" in status.stdout), status.stdout
    assert "ok   prometheus" in status.stdout and "not healthy: alerts" in status.stderr
    broken.write_text("metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    assert wait_until(lambda: "alerts: loaded" in console.read_text(), timeout=60, interval=0.2), console.read_text()
    assert "payment_latency" in prometheus_rule_names(started.ports.prometheus)
    status = hms_ops("status", cwd=folder)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"ok   alerts        1 alert from {folder / 'alerts'} loaded at " in status.stdout, status.stdout


@pytest.mark.e2e
def test_a_state_folder_named_with_pattern_and_shell_characters_runs_the_whole_stack(
        tmp_path: Path, stacks: list[Started]) -> None:
    """Prometheus reads rule paths as globs and the notifier's config refuses `$NAME` it would not expand:
    neither may see the state folder's own name as anything but a name."""
    folder = tmp_path / "app"
    (folder / "alerts").mkdir(parents=True)
    (folder / "alerts" / "payment_latency.yaml").write_text(
        "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    odd = folder / "it's [1] a*b? $HOME `id` %s"
    started = up_detached(stacks, folder, "--state", str(odd))
    started.state_dir = odd  # so the fixture stops this stack
    status = hms_ops("status", "--state", str(odd), cwd=folder)
    assert status.returncode == 0, status.stdout + status.stderr
    console = odd / state.CONSOLE_LOG
    assert wait_until(lambda: "alerts: loaded" in console.read_text(), timeout=60, interval=0.2), console.read_text()
    rules = http.get_json(f"http://127.0.0.1:{started.ports.prometheus}/api/v1/rules")
    names = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert {"payment_latency", "HmsCollectorDown"} <= names, names
    assert (odd / "notifier" / "state" / "journal").is_dir()
    assert (odd / "collector" / "collector-storage").is_dir()


@pytest.mark.e2e
def test_a_state_folder_named_with_a_newline_and_a_direction_override_is_shown_escaped(
        tmp_path: Path, stacks: list[Started]) -> None:
    """What `up`, `status` and `down` print about the state folder stays one line each, in reading order."""
    folder = tmp_path / "app"
    odd = folder / "two\nlines \u202eelif"
    started = up_detached(stacks, folder, "--state", str(odd))
    started.state_dir = odd
    shown = "two\\nlines \\u202eelif"
    assert "state and logs" in started.output and shown in started.output, started.output
    assert "\u202e" not in started.output and "two\nlines" not in started.output, started.output
    down = hms_ops("down", "--state", str(odd), cwd=folder)
    assert down.returncode == 0, down.stdout + down.stderr
    assert down.stdout.count("\n") == 1 and shown in down.stdout, down.stdout
    again = hms_ops("down", "--state", str(odd), cwd=folder)
    assert again.stdout == f"no stack is running with state {odd.parent}/{shown}; nothing to stop\n", again.stdout


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A live process, in its own session as a component is, standing in for a stack's; killed at the end."""
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield child
    child.kill()
    child.wait()


def record_of(name: str, pid: int) -> state.ProcessRecord:
    return state.ProcessRecord(name, pid, process_start_ticks(pid))


def test_down_on_a_copy_of_a_running_stacks_folder_stops_nothing_and_names_the_folder(
        tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    """`cp -r .hms-ops evidence; hms-ops down --state evidence` stopped the live stack and deleted the copy's file."""
    live, copy = tmp_path / "live", tmp_path / "evidence"
    state.write(live, state.StackState(record_of("hms-ops up", stand_in.pid), []))
    shutil.copytree(live, copy)
    for command in ("down", "status"):
        done = hms_ops(command, "--state", str(copy), cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert f"this state folder is a copy of {live}, whose stack is still running; use --state {live}" \
            in done.stderr, done.stderr
    assert stand_in.poll() is None, "down on the copy stopped the live stack"
    assert (copy / state.STATE_FILE).exists()
    done = hms_ops("down", "--state", str(live), cwd=tmp_path)
    assert done.returncode == 0 and f"stopped: hms-ops up (PID {stand_in.pid})" in done.stdout, done.stderr
    assert stand_in.wait(timeout=10) is not None


def test_a_state_file_without_its_folder_from_an_earlier_version_is_still_stopped(
        tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    record = record_of("hms-ops up", stand_in.pid)
    (tmp_path / state.STATE_FILE).write_text(state.StackState(record, []).to_json().replace('"folder": null', '"x": 1')
                                             .replace(',\n  "x": 1', ""))
    assert state.read(tmp_path) is not None and state.read(tmp_path).folder is None  # type: ignore[union-attr]
    done = hms_ops("down", "--state", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0 and f"(PID {stand_in.pid})" in done.stdout, done.stderr
    assert stand_in.wait(timeout=10) is not None


def test_down_never_signals_an_ancestor_of_its_own(tmp_path: Path) -> None:
    """A state file naming the shell (or PID 1) with its right start time had it signalled, by group if it led one."""
    wrapper = subprocess.Popen(  # the parent of `hms-ops down`, which the state file names
        [sys.executable, "-c", "import subprocess, sys; sys.stdin.readline(); "
         "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); print(done.returncode, done.stderr)",
         *HMS_OPS, "down", "--state", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    # Not PID 1 itself: a regression would signal its process group, which holds every process here.
    state.write(tmp_path, state.StackState(record_of("shell", wrapper.pid), []))
    out, _ = wrapper.communicate("go\n", timeout=60)
    assert wrapper.returncode == 0, "down signalled its own parent"
    assert out.startswith("1 ") and f"names shell (PID {wrapper.pid})" in out and "nothing was stopped" in out, out


@pytest.mark.parametrize("change", [
    ('"name": "hms-ops up"', '"name": 7'), ('"url": ""', '"url": 7'), ('"health_url": ""', '"health_url": 5'),
    ('"health_url": ""', '"health_url": "file:///etc/passwd"'),
    ('"health_url": ""', '"health_url": "http://example.com/ready"'),
    ('"health_headers": {}', '"health_headers": ["a"]'), ('"log": ""', '"log": null'),
    ('"links": {}', '"links": {"a": 1}'), ('"folder": {', '"folder": {"extra": 1, '),
])
def test_a_state_file_with_a_field_of_the_wrong_type_is_named_by_status_and_down(
        tmp_path: Path, stand_in: subprocess.Popen[bytes], change: tuple[str, str]) -> None:
    """Each crashed `status` (internal error) once the process was alive; file:///etc/passwd was "healthy"."""
    state.write(tmp_path, state.StackState(record_of("hms-ops up", stand_in.pid), [record_of("x", stand_in.pid)]))
    path = tmp_path / state.STATE_FILE
    assert change[0] in path.read_text()
    path.write_text(path.read_text().replace(change[0], change[1], 1))
    for command in ("status", "down"):
        done = hms_ops(command, "--state", str(tmp_path), cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert f"{path}: not a stack state file" in done.stderr, done.stderr
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert stand_in.poll() is None


def test_a_state_file_that_is_not_utf8_is_named_by_status_and_down(tmp_path: Path) -> None:
    (tmp_path / state.STATE_FILE).write_bytes(b'{"supervisor": "\xff"}')
    for command in ("status", "down"):
        done = hms_ops(command, "--state", str(tmp_path), cwd=tmp_path)
        assert done.returncode == 1, done.stdout
        assert f"{tmp_path / state.STATE_FILE}: not a stack state file (not UTF-8 text)" in done.stderr, done.stderr


@pytest.mark.parametrize("command", [["status"], ["down"], ["logs", "collector"], ["up", "--detach", "--no-logs"]])
def test_a_state_folder_that_is_a_link_loop_is_named_with_its_setting(tmp_path: Path, command: list[str]) -> None:
    """Path.resolve() raised RuntimeError ("Symlink loop") before the folder was checked: "internal error"."""
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    ports = Ports.free().as_options() if command[0] == "up" else []
    for how in ("--state", "HMS_OPS_STATE"):
        args, env = ((["--state", str(loop)], None) if how == "--state" else ([], {"HMS_OPS_STATE": str(loop)}))
        done = hms_ops(command[0], *args, *command[1:], *ports, cwd=tmp_path, env=env)
        assert done.returncode == 1, done.stdout
        assert f"the state folder {loop} (from {how}) is a link that loops" in done.stderr, done.stderr
        assert "internal error" not in done.stderr


def test_down_on_a_read_only_state_folder_says_what_it_stopped_before_the_error(
        tmp_path: Path, stand_in: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """It printed only "stack.json: Read-only file system": nothing said the stack was stopped."""
    from click.testing import CliRunner

    from hms_otel.stack.cli import down

    state.write(tmp_path, state.StackState(record_of("hms-ops up", stand_in.pid), []))

    def read_only(_directory: Path) -> None:  # root ignores permissions; a read-only mount is what fails
        raise OSError(30, "Read-only file system", str(tmp_path / state.STATE_FILE))

    monkeypatch.setattr(state, "remove", read_only)
    done = CliRunner().invoke(down, ["--state", str(tmp_path)])
    assert done.exit_code == 1, done.output
    stopped = done.output.index(f"stopped: hms-ops up (PID {stand_in.pid})")
    assert done.output.index(f"could not remove {tmp_path / state.STATE_FILE} (") > stopped, done.output
    assert "Read-only file system" in done.output
    assert stand_in.wait(timeout=10) is not None


@pytest.fixture
def locking_supervisor(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A live stand-in for `hms-ops up`: it holds the lock file of tmp_path/live open, as the supervisor does."""
    live = tmp_path / "live"
    live.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; lock = open(sys.argv[1], 'a'); "
         "fcntl.flock(lock, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(300)", str(live / state.LOCK_FILE)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"  # EOF if it failed: no hang
        state.write(live, state.StackState(record_of("hms-ops up", child.pid), []))
        yield live, child
    finally:
        child.kill()
        child.wait()


def test_a_state_folder_moved_to_another_filesystem_is_still_stopped_by_down(
        tmp_path: Path, locking_supervisor: tuple[Path, subprocess.Popen[str]]) -> None:
    """The move gave the folder a new device and inode, as a copy has: `down` refused it as a copy of the
    folder it came from, which no longer existed."""
    live, supervisor = locking_supervisor
    moved = tmp_path / "elsewhere" / "state"
    shutil.copytree(live, moved)  # what mv does across filesystems: copy, then remove the original
    shutil.rmtree(live)
    done = hms_ops("status", "--state", str(moved), cwd=tmp_path)
    assert done.returncode == 0 and f"PID {supervisor.pid}" in done.stdout, done.stderr
    done = hms_ops("down", "--state", str(moved), cwd=tmp_path)
    assert done.returncode == 0 and f"stopped: hms-ops up (PID {supervisor.pid})" in done.stdout, done.stderr
    assert supervisor.wait(timeout=10) is not None
    assert not (moved / state.STATE_FILE).exists()


def test_a_copy_is_refused_and_names_where_the_running_folder_is_now(
        tmp_path: Path, locking_supervisor: tuple[Path, subprocess.Popen[str]]) -> None:
    """A copy beside a folder renamed afterwards (same filesystem, same inode): the copy is still refused."""
    live, supervisor = locking_supervisor
    copy, renamed = tmp_path / "evidence", tmp_path / "renamed"
    shutil.copytree(live, copy)
    live.rename(renamed)
    done = hms_ops("down", "--state", str(copy), cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert f"this state folder is a copy of {renamed}, whose stack is still running; use --state {renamed}" \
        in done.stderr, done.stderr
    assert supervisor.poll() is None and (copy / state.STATE_FILE).exists()


def test_a_moved_folder_whose_supervisor_died_is_refused_with_how_to_stop_its_processes(
        tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    """Without the supervisor's lock a move cannot be told from a copy: refused, saying what runs and how to stop it."""
    live, moved = tmp_path / "live", tmp_path / "moved"
    dead = subprocess.Popen(["true"])
    dead.wait()
    state.write(live, state.StackState(state.ProcessRecord("hms-ops up", dead.pid, 1),
                                       [record_of("collector", stand_in.pid)]))
    shutil.copytree(live, moved)
    shutil.rmtree(live)
    done = hms_ops("down", "--state", str(moved), cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert f"this state folder is not the one its stack.json was written in ({live}, which no longer exists)" \
        in done.stderr, done.stderr
    assert f"its stack still runs: collector (PID {stand_in.pid})" in done.stderr
    assert f"stop it with `kill {stand_in.pid}` and delete {moved / state.STATE_FILE}" in done.stderr
    assert stand_in.poll() is None


def test_names_and_urls_from_the_state_file_are_shown_escaped_by_status_and_down(
        tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    """A component name "x\\x1b]0;pwn\\x07" reached the terminal as is (it set the window title)."""
    odd = "x\x1b]0;pwn\x07\u202e"
    record = record_of(odd, stand_in.pid)._replace(url="http://127.0.0.1:1/\x1b[2J", health_url="http://127.0.0.1:1/h\x07")
    state.write(tmp_path, state.StackState(record_of("hms-ops up", stand_in.pid), [record]))
    status = hms_ops("status", "--state", str(tmp_path), cwd=tmp_path)
    down = hms_ops("down", "--state", str(tmp_path), cwd=tmp_path)
    for done in (status, down):
        assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout + done.stderr, done
        assert "\u202e" not in done.stdout + done.stderr
    assert "x\\x1b]0;pwn\\x07\\u202e" in status.stdout and "http://127.0.0.1:1/\\x1b[2J" in status.stdout
    assert "not answering at http://127.0.0.1:1/h\\x07" in status.stdout
    assert "not healthy: x\\x1b]0;pwn\\x07\\u202e" in status.stderr
    assert f"x\\x1b]0;pwn\\x07\\u202e (PID {stand_in.pid})" in down.stdout


@pytest.mark.e2e
def test_up_detach_with_standard_output_closed_starts_and_says_its_output_was_lost(
        tmp_path: Path, stacks: list[Started]) -> None:
    """It ended in "internal error: AttributeError: 'NoneType' object has no attribute 'flush'" (exit 70)
    before starting anything; the supervisor's console now goes to its log as usual."""
    ports = Ports.free()
    stacks.append(Started(tmp_path, tmp_path / ".hms-ops", ports, ""))
    done = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *HMS_OPS, "up", "--detach", "--no-logs",
                           *ports.as_options()], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=180)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: standard output is closed, so what hms-ops had to print was lost")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert hms_ops("status", cwd=tmp_path).returncode == 0
    assert "state and logs" in (tmp_path / ".hms-ops" / state.CONSOLE_LOG).read_text()


def test_status_and_down_with_standard_output_closed_fail_saying_so(
        tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    """`hms-ops status >&-` exited 0 with nothing shown; `down` stopped the stack (it still does) and exited 0."""
    state.write(tmp_path, state.StackState(record_of("hms-ops up", stand_in.pid), []))
    for command in ("status", "down"):
        done = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *HMS_OPS, command, "--state", str(tmp_path)],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: standard output is closed, so what hms-ops had to print was lost")
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert stand_in.wait(timeout=10) is not None  # down did its work: only its report was lost
