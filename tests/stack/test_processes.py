"""The process layer and the build helpers, without the real backends."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from hms_otel.stack import LocalStack, MissingBinary, PortInUse, Ports, ProcessError, StackCannotStart, find_binary
from hms_otel.stack.processes import ManagedProcess, check_port_free, free_port


def test_port_in_use_names_the_port_and_how_to_change_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=rf"port {port} \(prometheus\).*--prometheus-port"):
            check_port_free(port, "prometheus", "--prometheus-port")


def test_local_stack_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = Ports.free()._replace(otlp_grpc=taken.getsockname()[1])
        with pytest.raises(StackCannotStart, match="--otlp-grpc-port or HMS_OTLP_GRPC_PORT"):
            LocalStack(tmp_path, ports).start()
    assert not list(tmp_path.glob("*/*.log"))


def test_process_that_exits_while_starting_reports_its_log(tmp_path: Path) -> None:
    code = "import sys; print('bad flag --nope'); sys.exit(3)"
    process = ManagedProcess(
        "broken",
        [sys.executable, "-c", code],
        log_path=tmp_path / "broken.log",
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=20,
    )
    with pytest.raises(ProcessError, match=r"(?s)broken exited with code 3.*bad flag --nope"):
        process.start()


def test_process_not_ready_in_time_is_stopped_and_reported(tmp_path: Path) -> None:
    code = "import time; print('still warming up', flush=True); time.sleep(60)"
    process = ManagedProcess(
        "slow",
        [sys.executable, "-c", code],
        log_path=tmp_path / "slow.log",
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout=1,
        grace=2,
    )
    with pytest.raises(ProcessError, match=r"(?s)slow was not ready.*still warming up"):
        process.start()
    assert not process.running


def test_stop_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    with ManagedProcess("stubborn", [sys.executable, "-c", code], log_path=tmp_path / "s.log", grace=0.5) as p:
        assert p.running
    assert not p.running


def test_missing_binary_tells_which_install_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path))
    with pytest.raises(MissingBinary, match="hms-ops install victoria-logs"):
        find_binary("victoria-logs")
    with pytest.raises(MissingBinary, match="hms-ops install collector"):
        find_binary("hms-otelcol")
    monkeypatch.setenv("HMS_OPS_VICTORIA_LOGS", str(tmp_path / "nope"))
    with pytest.raises(MissingBinary, match="HMS_OPS_VICTORIA_LOGS="):
        find_binary("victoria-logs")


def test_readiness_probe_answers_like_a_get_that_follows_redirects() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from hms_otel.http import ok

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                self.send_response(302)
                self.send_header("Location", "/ready")
            elif self.path == "/ready" and self.headers.get("Authorization") in (None, "Basic x"):
                self.send_response(200)
            else:
                self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert ok(base + "/ready") and ok(base + "/") and ok(base + "/ready", headers={"Authorization": "Basic x"})
        assert not ok(base + "/missing") and not ok(base + "/ready", headers={"Authorization": "Basic y"})
        assert not ok(f"http://127.0.0.1:{free_port()}/ready")
    finally:
        server.shutdown()
        server.server_close()
