"""hms-ops collector / install / up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.cli import cli
from hms_otel.stack import Ports, find_binary
from hms_otel.stack.processes import http_ok, wait_until


@pytest.mark.e2e
def test_collector_path_prints_the_cached_binary() -> None:
    result = CliRunner().invoke(cli, ["collector", "path"])
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()) == find_binary("hms-otelcol")


def test_collector_path_without_a_build_says_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path))
    result = CliRunner().invoke(cli, ["collector", "path"])
    assert result.exit_code == 1
    assert "hms-ops install collector" in result.output
    assert "Traceback" not in result.output


@pytest.mark.e2e
def test_collector_validate_reports_a_bad_config_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: [not, a, string]\n")
    result = CliRunner().invoke(cli, ["collector", "validate", str(bad)])
    assert result.exit_code == 1
    assert str(bad) in result.output and "Traceback" not in result.output


@pytest.mark.e2e
def test_install_is_idempotent_when_everything_is_there() -> None:
    # Needs everything installed already (the e2e suite does); otherwise this is the real install.
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 0, result.output
    assert "already" in result.output


@pytest.mark.e2e
def test_up_runs_the_stack_on_the_given_ports_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    ports = Ports.free()
    argv = [
        sys.executable,
        "-m",
        "hms_otel.cli",
        "up",
        "--state",
        str(tmp_path / "up"),
    ]
    argv += ports.as_options()
    import threading

    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        ready = wait_until(
            lambda: (
                http_ok(f"http://127.0.0.1:{ports.collector_health}/")
                and http_ok(f"http://127.0.0.1:{ports.victorialogs}/health")
                and http_ok(f"http://127.0.0.1:{ports.prometheus}/user/dashboards.json")
                and any("Ctrl-C stops everything" in line for line in lines)  # the summary is printed
            ),
            timeout=120,
            interval=0.5,
        )
        assert ready, "".join(lines) or "stack not ready"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        _stop(proc)
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "stopping" in output
    assert f"http://127.0.0.1:{ports.victorialogs}/select/vmui/" in output  # the log UI is printed
    # The dashboard is linked from the start-up output (rich may wrap the table cell).
    assert "HMS dashboard" in output and "/user/index.html" in output.replace("\n", "").replace(" ", "")
    assert not http_ok(f"http://127.0.0.1:{ports.prometheus}/-/ready")
    assert not http_ok(f"http://127.0.0.1:{ports.victorialogs}/health")


@pytest.mark.e2e
def test_up_on_a_taken_port_names_it_and_the_option(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = Ports.free()._replace(prometheus=port)
        argv = ["up", "--state", str(tmp_path)]
        argv += ports.as_options()
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1
    assert f"port {port}" in result.output and "--prometheus-port" in result.output
    assert "Traceback" not in result.output


@pytest.mark.e2e
def test_up_demo_texts_the_on_call_phone(tmp_path: Path) -> None:
    """The README's main command: the stack, the demo service, the payment alert, the SMS."""
    import threading

    ports = Ports.free()
    repo = Path(__file__).resolve().parents[2]
    argv = [
        sys.executable, "-m", "hms_otel.cli", "up", "--demo", "--demo-calm", "5",
        "--state", str(tmp_path / "up"), "--alerts", str(repo / "alert_rules"),
        "--scrape-interval", "1s", "--evaluation-interval", "1s",
    ]
    argv += ports.as_options()
    # No SMS provider: the notifier prints the text on this console as the phone would show it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HMS_TWILIO_", "HMS_NOTIFIER_"))}
    env.update(COLUMNS="200")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # The payments SLO may page first on the same number; wait for the tutorial's alert.
        headline = re.compile(r"\[HMS-OPS\] ALERT – payment_latency_ms [0-9.]+ s \(>2 s\)$")

        def paged() -> bool:
            return any(headline.search(line.rstrip()) for line in lines)

        assert wait_until(paged, timeout=180, interval=0.5), "".join(lines)
        at = next(i for i, line in enumerate(lines) if headline.search(line.rstrip()))
        text = "".join(lines[at:at + 3])
        assert wait_until(lambda: "Probable source: Database connection pool exhausted" in "".join(lines[at:at + 3]),
                          timeout=10, interval=0.2), "".join(lines)
        assert "Alertmanager: silences" in "".join(lines) and "password" in "".join(lines)
        assert any("sms:+15551234: prints on this console" in line for line in lines), text
        # The dashboard's alert list gets the same probable source (copied beside the page every second).
        sources = tmp_path / "up" / "prometheus" / "user-assets" / "alert-sources.json"

        def on_dashboard() -> bool:
            return sources.is_file() and "Database connection pool exhausted" in sources.read_text()

        assert wait_until(on_dashboard, timeout=10, interval=0.5), sources
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        _stop(proc)
    assert proc.returncode == 0, "".join(lines)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C first, so `up` stops its servers; SIGKILL only if it does not exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.e2e
def test_servers_do_not_outlive_a_killed_up(tmp_path: Path) -> None:
    ports = Ports.free()
    argv = [sys.executable, "-m", "hms_otel.cli", "up", "--state", str(tmp_path / "up")]
    argv += ports.as_options()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        prometheus = f"http://127.0.0.1:{ports.prometheus}/-/ready"
        assert wait_until(lambda: http_ok(prometheus), timeout=120, interval=0.5), "stack not ready"
        proc.kill()  # no chance to clean up: the kernel's parent-death signal must stop the servers
        proc.wait()
        assert wait_until(lambda: not http_ok(prometheus), timeout=30, interval=0.5), "Prometheus outlived hms-ops up"
        collector = f"http://127.0.0.1:{ports.collector_health}/"
        assert wait_until(lambda: not http_ok(collector), timeout=30, interval=0.5), "the collector outlived it"
    finally:
        _stop(proc)
