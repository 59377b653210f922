"""The log UI the stack serves (VictoriaLogs' vmui at /select/vmui/), in headless Chromium: a record the test
wrote with metric.log, through the collector, is found by a search on the page. The screenshot is kept in
test-output/ (and the test's tmp dir): look at it."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from hms_otel.logstore import LogStore
from hms_otel.stack import LocalStack
from hms_otel.stack.processes import wait_until

from ..support import log_marker, log_pipeline_report

pytestmark = pytest.mark.e2e
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run scripts/test (it installs Debian's chromium)", pytrace=False)
    return found


def _headless(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1400,900",
        # Let the single-page app fetch and render the query result before the page is read.
        "--virtual-time-budget=15000",
        *args,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


def test_log_ui_finds_a_record_written_by_the_test(stack: LocalStack, run_app, tmp_path: Path) -> None:
    marker = log_marker("ui")
    # The app exits a second after its last record: room to export at exit on a busy machine (the default
    # exit budget, 2 s, is for applications; what this test is about is the page).
    app = run_app(stack, "logs_app", marker, service_name="logs-ui", HMS_LAYER="ACT", HMS_OTEL_SHUTDOWN_TIMEOUT="30")
    store = LogStore(stack.victorialogs_url)
    assert wait_until(lambda: store.search(marker, service="logs-ui"), timeout=60, interval=0.5), (
        f"no record in the log store; the app said:\n{app.stdout}\n{app.stderr}\n{log_pipeline_report(stack, marker)}")
    assert stack.victorialogs is not None

    query = urllib.parse.quote(f'{{service.name="logs-ui"}} "{marker}" "facade"')
    url = f"{stack.victorialogs.ui_url}#/?query={query}&g0.range_input=1h"
    page = _headless(url, "--dump-dom")
    assert page.returncode == 0, page.stderr
    assert f"{marker} facade warning" in page.stdout, page.stdout[-3000:]
    assert f"{marker} logging info" not in page.stdout  # the search narrowed the page to the one record

    shot = tmp_path / "log-ui.png"
    taken = _headless(url, f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, taken.stderr
    OUTPUT.mkdir(exist_ok=True)
    shutil.copy(shot, OUTPUT / "log-ui.png")
    (OUTPUT / "log-ui.json").write_text(json.dumps({"url": url, "marker": marker}))
