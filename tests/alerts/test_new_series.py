"""Counters and histograms that first reach Prometheus already counting, or stop reaching it, against the
real promtool.

An OpenTelemetry counter is exported only once it has counted something, so its first sample is the
count since the process started (5 failed jobs, 40 dropped log records, one 11 s payment). increase(),
rate() and rate()/rate() saw nothing before that first sample: a new worker that failed 5 jobs and
crashed, or the first slow call of a new instance, never alerted. And a service that stopped has no
series left in the window: `rate_over_1m < 0.5` (too little traffic) went silent then, when it is most true.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from hms_otel.alerts.compiler import compile_files
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.spec import load_bytes
from hms_otel.alerts.tools import ToolMissing, find_tool


def _promtool() -> str:
    try:
        return find_tool("promtool")
    except ToolMissing:
        return ""


pytestmark = pytest.mark.skipif(not _promtool(), reason="promtool not installed (Debian prometheus)")

#: The job has been sending telemetry (target_info) since 0; the series appears at 6m (72 samples of 5 s).
_SENDING = {"series": 'target_info{job="w",instance="a"}', "values": "1x200"}
_BORN = "_x72 "


def _run(alert: str, series: list[dict[str, str]], eval_time: str, value: float | None,
         tmp_path: Path, labels: str = '{instance="a", job="w"}') -> subprocess.CompletedProcess[str]:
    """promtool on the compiled rule's expression: ``value`` for the new series (the alert fires with it), or
    nothing (``None``: silent)."""
    parsed, problems = load_bytes(alert, "alert.yml")
    assert parsed is not None and not problems, problems
    rule = compile_files([parsed], Settings()).rules["groups"][0]["rules"][0]
    expected = [] if value is None else [{"labels": labels, "value": value}]
    test = {"evaluation_interval": "5s", "tests": [{
        "interval": "5s", "input_series": series,
        "promql_expr_test": [{"expr": rule["expr"], "eval_time": eval_time, "exp_samples": expected}]}]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    return subprocess.run([_promtool(), "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(("when", "values", "value"), [
    # 5 failed jobs in the first export, 2 more later: 7, where increase() saw 2.08
    ("increase_over_5m > 3", "5 5 5 5 7x100", 7),
    # one export with 5 failed jobs, then the worker crashed: increase() saw nothing at all
    ("increase_over_5m > 3", "5 5", 5),
    ("rate_over_5m > 0.01", "5x100", 5 / 300),
])
def test_a_counter_born_counting_alerts_on_its_first_count(when: str, values: str, value: float,
                                                           tmp_path: Path) -> None:
    alert = f"metric: job_fail_total\nwhen: {when}\naction: slack:#ops\n"
    series = [_SENDING, {"series": 'job_fail_total{job="w",instance="a"}', "values": _BORN + values}]
    run = _run(alert, series, "7m", value, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_new_instance_whose_first_call_is_slow_alerts(tmp_path: Path) -> None:
    alert = "metric: a2a_transfer_ms\nwhen: avg_over_30s > 2000\naction: slack:#ops\n"
    series = [_SENDING,
              {"series": 'a2a_transfer_ms_sum{job="w",instance="a"}', "values": _BORN + "11000x10"},
              {"series": 'a2a_transfer_ms_count{job="w",instance="a"}', "values": _BORN + "1x10"}]
    run = _run(alert, series, "6m10s", 11000, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("values", ["900x100", "5 5 5 5 7x100"])
def test_a_lifetime_count_prometheus_never_saw_growing_is_no_increase(values: str, tmp_path: Path) -> None:
    """A fresh Prometheus (or one back from an outage) sees every series as new: the job sent nothing a
    window ago, so a long-running counter's total is not taken for jobs failed in the last 5 minutes."""
    alert = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"
    series = [{"series": 'target_info{job="w",instance="a"}', "values": _BORN + "1x100"},
              {"series": 'job_fail_total{job="w",instance="a"}', "values": _BORN + values}]
    run = _run(alert, series, "7m", None, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(("alert", "values", "value"), [
    # the service stopped at 2m: its last samples leave the 1m window at 3m
    ("metric: payment_latency_ms\nwhen: rate_over_1m < 0.5\n", "0+10x24", 0),
    ("metric: payment_latency_ms\nwhen: count_over_1m <= 3\n", "0+10x24", 0),
    # the 0 carries the alert's own labels: the notifier finds the service's probable source by them
    ("metric: refund_pdf_total\nwhen: increase_over_1m == 0\nlabels: {service: w}\n", "0+10x24", 0),
    # a stopped service is no busy service: `>` gets no 0
    ("metric: payment_latency_ms\nwhen: rate_over_1m > 0.5\n", "0+10x24", None),
    # too little traffic, but some: the service's own value and labels
    ("metric: refund_pdf_total\nwhen: rate_over_1m < 0.5\n", "0+1x100", 0.2),
])
def test_a_service_with_no_events_left_is_zero_events(alert: str, values: str, value: float | None,
                                                      tmp_path: Path) -> None:
    name = "payment_latency_ms_count" if "payment" in alert else "refund_pdf_total"
    series = [_SENDING, {"series": f'{name}{{job="w",instance="a"}}', "values": values}]
    labels = ('{job="w"}' if "service" in alert else "{}") if value == 0 else '{instance="a", job="w"}'
    run = _run(alert + "action: slack:#ops\n", series, "4m", value, tmp_path, labels)
    assert run.returncode == 0, run.stdout + run.stderr
