"""`hms-ops up` with a pathological alert file (1 MB, shaped after what made the old `when:` parser
backtrack for minutes) in its alert folder: it reports the file's located error and stops within 5 s of
SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hms_otel.stack import Ports
from hms_otel.stack.processes import http_ok, wait_until

PATHOLOGICAL = ("metric: job_fail_total\naction: slack:#ops\nwhen: 'avg_over_" + "1" * 400_000 + " " * 300_000
                + "> x " * 60_000 + "'\n")


@pytest.mark.e2e
def test_up_stops_within_5_s_of_sigterm_with_a_pathological_alert_file(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    (alerts / "slow.yml").write_text(PATHOLOGICAL)
    ports = Ports.free()
    argv = [sys.executable, "-m", "hms_otel.cli", "up", "--state", str(tmp_path / "up"), "--alerts", str(alerts)]
    argv += ports.as_options()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    try:
        ready = wait_until(lambda: any("slow.yml:3:" in line for line in lines)
                           and http_ok(f"http://127.0.0.1:{ports.prometheus}/-/ready"), timeout=180, interval=0.5)
        assert ready, "".join(lines) or "stack not ready"
        # The file is written again while the watcher works on it: SIGTERM arrives mid-compile.
        (alerts / "slow.yml").write_text(PATHOLOGICAL.replace("avg_over_", "max_over_"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    output = "".join(lines)
    assert "Traceback" not in output
    assert not http_ok(f"http://127.0.0.1:{ports.prometheus}/-/ready")
