"""Facades called while a facade of the same thread runs: from a signal handler (which interrupts the main
thread wherever it is, locks held included) or from a callback of another facade's argument."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import metric

APP = Path(__file__).parents[1] / "apps" / "signal_app.py"


@pytest.mark.parametrize("mode", ["none", "sdk", "use"])
def test_facades_in_a_signal_handler_never_hang_the_process(mode: str) -> None:
    # A timer every 0.5 ms calls facades from its handler while the main loop calls them too: before, the
    # handler soon waited for a lock the interrupted main thread held, and the process hung for good.
    done = subprocess.run([sys.executable, str(APP), "300", mode], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    assert done.returncode == 0, done.stderr[-3000:]
    handled = int(done.stdout.split()[1])
    assert handled >= 300
    if mode == "use":  # every call of the handler was recorded and every failure counted, none lost
        assert f"totals {{'sig_handler_total': {handled}}} errors" in done.stdout
        assert int(done.stdout.split()[-1]) == handled


def _sum(reader: InMemoryMetricReader, name: str) -> float:
    data = reader.get_metrics_data()
    return sum(point.value for rm in data.resource_metrics for sm in rm.scope_metrics for found in sm.metrics
               if found.name == name for point in found.data.data_points)


def test_a_facade_called_from_an_argument_of_another_is_recorded_after_it(reader: InMemoryMetricReader) -> None:
    class Tenant:
        def __str__(self) -> str:
            metric.increment("reentry_inner_total")  # runs while the outer call binds its series
            return "acme"

    metric.increment("reentry_outer_total", tenant=Tenant())
    assert _sum(reader, "reentry_outer_total") == 1
    assert _sum(reader, "reentry_inner_total") == 1
