"""The process layer and the build helpers, without the real backends."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from hms_otel.stack import LocalStack, MissingBinary, PortInUse, Ports, ProcessError, StackCannotStart, find_binary
from hms_otel.stack.builds import victorialogs_path
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


def test_the_log_lines_shown_are_this_launchs_not_an_earlier_runs(tmp_path: Path) -> None:
    """The log is appended to across runs: a launch that printed two lines was shown with thirteen of the
    run before, which read as this one's errors."""
    log = tmp_path / "broken.log"
    log.write_text("".join(f"earlier run, line {n}\n" for n in range(100_000)))
    process = ManagedProcess("broken", [sys.executable, "-c", "import sys; print('bad flag --nope'); sys.exit(3)"],
                             log_path=log, ready_url=f"http://127.0.0.1:{free_port()}/", ready_timeout=20)
    with pytest.raises(ProcessError) as raised:
        process.start()
    message = str(raised.value)
    assert "bad flag --nope" in message and "earlier run" not in message, message
    assert log.read_text().startswith("earlier run, line 0\n")  # kept, not shown


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
    with pytest.raises(MissingBinary, match=r"=.* does not exist\): fix or unset HMS_OPS_VICTORIA_LOGS"):
        find_binary("victoria-logs")


def test_a_binary_that_cannot_be_run_is_named_before_anything_starts(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    plain = tmp_path / "victoria-logs"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    for path, problem in ((plain, "is not executable"), (tmp_path, "is a folder")):
        monkeypatch.setenv("HMS_OPS_VICTORIA_LOGS", str(path))
        with pytest.raises(MissingBinary, match=re.escape(f"={path} {problem}")):
            find_binary("victoria-logs")
    plain.chmod(0o755)
    monkeypatch.setenv("HMS_OPS_VICTORIA_LOGS", str(plain))
    assert find_binary("victoria-logs") == plain
    monkeypatch.delenv("HMS_OPS_VICTORIA_LOGS")
    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path / "cache"))
    cached = victorialogs_path()
    cached.parent.mkdir(parents=True)
    cached.write_text("")  # an interrupted copy into the cache
    with pytest.raises(MissingBinary, match=r"is not executable.*hms-ops install victoria-logs"):
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


class _ScriptedSocket:
    """A socket whose ``bind(("127.0.0.1", 0))`` gets the next port of a script, as the OS might hand them out."""

    script: list[int] = []

    def __init__(self, *_args: object) -> None:
        self.port = 0

    def __enter__(self) -> _ScriptedSocket:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def bind(self, _address: tuple[str, int]) -> None:
        self.port = self.script.pop(0)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_a_port_the_os_hands_out_again_is_not_taken_twice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hms_otel.stack import processes

    monkeypatch.setattr(processes.socket, "socket", _ScriptedSocket)
    _ScriptedSocket.script = [40001, 40001, 40002]
    assert free_port(avoid=[40001]) == 40002
    # A stack's own ports are chosen but not bound yet: the collector's internal spool port must not be one
    # of them (a collector once died with "bind: address already in use" on its OTLP/HTTP port).
    ports = Ports(*range(41000, 41000 + len(Ports._fields)))
    _ScriptedSocket.script = [ports.otlp_http, ports.prometheus, 41999]
    assert LocalStack(tmp_path, ports).collector.spool_port == 41999
    _ScriptedSocket.script = [42000, 42000, 42000, 42001, 42002, 42003, 42003, 42004, 42005, 42006, 42007]
    assert Ports.free() == Ports(*range(42000, 42008))
