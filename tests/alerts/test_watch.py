"""`hms-ops alerts watch` as a process (no servers): outputs follow the files,
a broken file is reported with its location and the last good output stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..support import eventually


@pytest.fixture
def watcher(tmp_path: Path):
    source = tmp_path / "alert_rules"
    source.mkdir()
    (source / "fails.yml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n")
    output = tmp_path / "out" / "rules.yml"
    process = subprocess.Popen(
        [sys.executable, "-c", "from hms_otel.cli import main; main()", "alerts", "watch", str(source),
         "-o", str(output), "--alertmanager", str(tmp_path / "out" / "alertmanager.yml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        yield source, output, lines
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert "Traceback" not in "".join(lines)


def test_watch_follows_edits_and_keeps_last_good_output(watcher) -> None:
    source, output, lines = watcher
    eventually(lambda: output.exists() and "increase(job_fail_total[5m]) > 3" in output.read_text(), 30, "first output")
    (source / "fails.yml").write_text("metric: job_fail_total\nwhen: increase_over_10m > 7\naction: slack:#ops\n")
    eventually(lambda: "increase(job_fail_total[10m]) > 7" in output.read_text(), 30, "edited output")
    good = output.read_text()
    (source / "fails.yml").write_text("metric: job_fail_total\nwhen: increase_over_10q > 7\naction: slack:#ops\n")
    eventually(lambda: any("fails.yml:2:21: bad duration" in line for line in lines), 30, "the located error")
    assert any("previous rules stay active" in line for line in lines)
    assert output.read_text() == good
