"""Issue 9: logs survive what metrics survive, with the real collector and VictoriaLogs.

- collector SIGKILLed and restarted after 10 s: every record the app logged arrives (the app's bounded buffer,
  hms_otel.logbuffer, and the collector's queue on disk);
- log store stopped for 60 s: every record arrives (the collector's sending queue on file_storage);
- app stopped with SIGTERM: what it logged before the signal arrives (SIGTERM flush, issue 13).
Counts are exact: VictoriaLogs is asked how many records of the app's service it holds (and, after SIGTERM,
how many distinct ones, so a duplicate cannot stand in for a lost record).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel.logstore import LogStore
from hms_otel.stack import LocalStack, MissingBinary, ProcessError
from hms_otel.stack.processes import wait_until

pytestmark = pytest.mark.e2e
RATE = 40  # records/s


@pytest.fixture
def logs_stack(tmp_path: Path) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path / "stack")
    try:
        stack.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


def _stored(stack: LocalStack, service: str) -> int:
    return LogStore(stack.victorialogs_url).count(f'{{"service.name"="{service}"}}', start=None)


def _start(start_app, stack: LocalStack, service: str, stop: Path) -> subprocess.Popen[str]:
    app = start_app(
        stack,
        "logs_steady",
        stop,
        RATE,
        service_name=service,
        # Room to drain the buffer at exit; the exporter's per-attempt timeout stays the default.
        HMS_OTEL_SHUTDOWN_TIMEOUT="30",
    )
    assert app.stdout is not None and app.stdout.readline().strip() == "ready", app.stderr.read() if app.stderr else ""
    return app


def _finish(app: subprocess.Popen[str], stop: Path) -> int:
    stop.touch()
    out, err = app.communicate(timeout=90)
    assert app.returncode == 0, err
    return int(out.strip().splitlines()[-1])


def _all_arrived(stack: LocalStack, service: str, emitted: int, timeout: float = 90) -> int:
    seen = [0]

    def check() -> bool:
        seen[0] = _stored(stack, service)
        return seen[0] >= emitted

    wait_until(check, timeout=timeout, interval=1)
    time.sleep(2)  # and no duplicates arrive late
    return _stored(stack, service)


def test_collector_killed_for_10_s_loses_no_log_record(logs_stack: LocalStack, start_app, tmp_path: Path) -> None:
    service, stop = "durable-kill", tmp_path / "stop"
    app = _start(start_app, logs_stack, service, stop)
    time.sleep(3)
    logs_stack.kill_collector()
    time.sleep(10)
    logs_stack.start_collector()
    time.sleep(3)
    emitted = _finish(app, stop)
    assert emitted >= 10 * RATE
    assert _all_arrived(logs_stack, service, emitted) == emitted


def test_log_store_down_for_60_s_loses_no_log_record(logs_stack: LocalStack, start_app, tmp_path: Path) -> None:
    service, stop = "durable-store", tmp_path / "stop"
    app = _start(start_app, logs_stack, service, stop)
    time.sleep(2)
    logs_stack.stop_victorialogs()
    time.sleep(60)
    logs_stack.start_victorialogs()
    time.sleep(2)
    emitted = _finish(app, stop)
    assert emitted >= 60 * RATE
    assert _all_arrived(logs_stack, service, emitted, timeout=120) == emitted


def test_app_stopped_with_sigterm_delivers_what_it_logged(logs_stack: LocalStack, start_app, tmp_path: Path) -> None:
    service, stop = "durable-sigterm", tmp_path / "stop"
    app = _start(start_app, logs_stack, service, stop)
    time.sleep(5)
    app.send_signal(signal.SIGTERM)
    app.wait(timeout=60)
    # The signal lands just before or just after the record the count file names is logged.
    last = int(Path(str(stop) + ".count").read_text())
    _all_arrived(logs_stack, service, last - 1, timeout=30)
    rows = LogStore(logs_stack.victorialogs_url).query(
        f'{{"service.name"="{service}"}} | stats count() as records, count_uniq(seq) as distinct'
    )
    stored = {name: int(value) for name, value in rows[0].items()}
    assert stored["records"] == stored["distinct"], f"duplicates stored: {stored}"
    assert stored["records"] in (last - 1, last), f"{stored} for a count file saying {last}"


def test_records_dropped_at_a_full_queue_are_counted_in_prometheus(stack: LocalStack, run_app) -> None:
    """Above the pipeline's capacity records are dropped, but never silently: the stack sees the count."""
    done = run_app(
        stack,
        "logs_burst",
        2000,
        service_name="logs-burst",
        OTEL_BLRP_MAX_QUEUE_SIZE="64",
        OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="32",
        OTEL_BLRP_SCHEDULE_DELAY="5000",
    )
    counted = json.loads(done.stdout.strip().splitlines()[-1])["queue_full"]
    assert counted > 0
    query = 'sum(hms_otel_log_records_dropped_total{job="logs-burst", reason="queue_full"})'
    assert stack.wait_for(query, lambda v: v is not None and v >= counted, timeout=60) >= counted
    # Every record either arrives or is counted (the SDK may count one too many, never one too few).
    stored = [0]

    def accounted() -> bool:
        stored[0] = LogStore(stack.victorialogs_url).count('{"service.name"="logs-burst"}')
        return stored[0] + counted >= 2000

    assert wait_until(accounted, timeout=60, interval=0.5), f"{stored[0]} stored + {counted} counted < 2000"
