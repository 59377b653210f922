"""Every layer metric from a service with no hms import, through the real collector into real Prometheus."""

from __future__ import annotations

import re

import pytest

from hms_otel.registry import REGISTRY
from hms_otel.stack import LocalStack

pytestmark = pytest.mark.e2e

JOB = "layers-demo"
LAYERS = ("ACH", "SVC", "A2A", "ACT", "ESQ", "Governance")

#: PromQL selector (without job) -> value the demo app (tests/apps/layers_demo.py) produces.
EXPECTED: dict[str, float] = {
    'ach_latency_ms_count{agency="dmv",outcome="ok"}': 1,
    'ach_latency_ms_count{agency="irs",outcome="error"}': 1,
    'ach_latency_ms_bucket{agency="dmv",outcome="ok",le="+Inf"}': 1,
    'ach_batch_size_sum{agency="dmv"}': 4,
    'ach_batch_size_count{agency="dmv"}': 1,
    'ach_flagged_total{agency="dmv",reason="over_limit"}': 1,
    'ach_flagged_total{agency="dmv",reason="duplicate"}': 1,
    'job_queue_depth{queue="renewals"}': 3,
    'job_fail_total{queue="renewals",error_type="KeyError"}': 1,
    'job_fail_total{queue="renewals",error_type="ZeroDivisionError"}': 1,
    'a2a_transfer_ms_count{agency="irs",outcome="ok"}': 2,
    'a2a_transfer_ms_count{agency="va",outcome="error"}': 1,
    'a2a_failed_total{agency="va",error_type="TransferError"}': 1,
    'activities_pending{workflow="renewal"}': 1,
    'activities_pending{workflow="refund"}': 0,
    'activities_error_total{workflow="refund",error_type="ActivityFailed"}': 1,
    'esq_latency_ms_count{check="eligibility",outcome="ok"}': 1,
    'esq_latency_ms_count{check="benefits",outcome="ok"}': 1,
    'esq_conflicts_total{rule="adult"}': 1,
    'esq_conflicts_total{rule="resident"}': 2,
    'vet_denied_total{policy="spending"}': 1,
}


def _with_job(selector: str) -> str:
    name, _, labels = selector.partition("{")
    return f'sum({name}{{job="{JOB}",{labels})'


def test_every_layer_metric_reaches_prometheus(stack: LocalStack, start_app, tmp_path) -> None:
    stop_file = tmp_path / "stop"
    app = start_app(stack, "layers_demo", stop_file, service_name=JOB)
    try:
        assert app.stdout is not None
        ready = app.stdout.readline().strip()
        assert ready == "ready", f"demo did not start: {ready!r}\n{app.stderr.read() if app.poll() is not None else ''}"
        # The slowest path (export interval + remote write + ingestion) is waited for once...
        stack.wait_for(_with_job('vet_denied_total{policy="spending"}'), lambda v: v == 1, timeout=60)
        # ...then every value must be right (and stable) within a few more export intervals.
        for selector, expected in EXPECTED.items():
            value = stack.wait_for(_with_job(selector), lambda v, e=expected: v == e, timeout=15)
            assert value == expected, selector

        # The layer instrumentations' metrics; a layer's contract may also hold metrics services record
        # themselves (license_printer_health), which this app has no reason to export.
        names = r"ach_.*|job_.*|a2a_.*|activities_.*|esq_.*|vet_.*"
        contract = {
            series
            for layer in LAYERS
            for d in REGISTRY.by_layer(layer)
            for series in d.prometheus_series
            if re.fullmatch(names, series)
        }
        found = {s["metric"]["__name__"] for s in stack.query(f'{{job="{JOB}",__name__=~"{names}"}}')}
        assert found == contract
    finally:
        stop_file.touch()
        app.wait(timeout=30)
