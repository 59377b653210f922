"""Issue 13 class 3: the collector's storage on a small filesystem that fills up, then is freed.

Needs root for the tmpfs mount (CI runs as root); skipped elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel import http
from hms_otel.stack import LocalStack, MissingBinary, ProcessError

from ..support import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)"),
]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _collector_counter(stack: LocalStack, prefix: str) -> float:
    """Sum of the collector's own counters whose line starts with ``prefix`` (read from its /metrics)."""
    url = f"http://127.0.0.1:{stack.ports.collector_telemetry}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
    return filler


def test_full_disk_loss_is_counted_alerted_and_the_pipeline_recovers(
    small_disk: Path, tmp_path: Path, start_app
) -> None:
    stack = LocalStack(
        tmp_path / "stack",
        with_victorialogs=False,
        collector_env={"HMS_COLLECTOR_STORAGE_DIR": str(small_disk / "storage")},
    )
    try:
        stack.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        stop_file, query = tmp_path / "stop", 'sum(refund_pdf_total{job="full-disk"})'
        app = start_app(stack, "stack_ticker", stop_file, 0.05, service_name="full-disk")
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        stack.wait_for(query, lambda v: v is not None and v > 10)

        filler = _fill(small_disk)
        # Full disk and Prometheus down: the spool must grow on a disk with no room.
        stack.stop_prometheus()
        eventually(
            lambda: _collector_counter(stack, "otelcol_exporter_enqueue_failed_metric_points") > 0,
            60,
            "the collector to count the batches it could not queue on the full disk",
        )
        stack.start_prometheus()
        filler.unlink()

        # The loss is alerted on by the shipped pipeline alerts ...
        def alert_firing() -> bool:
            return bool(stack.query('ALERTS{alertname="HmsTelemetryLost",alertstate="firing"}'))

        eventually(alert_firing, 90, "the HmsTelemetryLost alert")
        # ... and the pipeline recovered by itself: every increment arrives (counters are cumulative).
        before = stack.query_value(query) or 0
        stack.wait_for(query, lambda v: v is not None and v > before)
        stop_file.touch()
        out, err = app.communicate(timeout=60)
        assert app.returncode == 0, err
        sent = int(out.strip().splitlines()[-1])
        assert stack.wait_for(query, lambda v: v == sent, timeout=90) == sent
        # Bounded: what was refused is a few batches, not the stream.
        assert _collector_counter(stack, "otelcol_exporter_enqueue_failed_metric_points") < 1000
    finally:
        stack.stop()


def test_pipeline_alert_rules_are_valid_and_loaded(isolated_stack: LocalStack) -> None:
    from hms_otel.stack.services import PIPELINE_ALERTS

    check = subprocess.run(["promtool", "check", "rules", str(PIPELINE_ALERTS)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = http.get_json(f"{isolated_stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"HmsTelemetryLost", "HmsCollectorQueueNearlyFull", "HmsTelemetryRefused"} <= loaded
