import ast
import importlib.util
import re
from pathlib import Path

import pytest

from hms_otel.contract import CONTRACT
from hms_otel.registry import (
    REGISTRY,
    Kind,
    MetricDefinition,
    MetricKindConflict,
    MetricNameError,
    MetricRegistry,
    check_name,
    prometheus_name,
)


def test_contract_is_seeded_with_kinds_and_units():
    assert len(CONTRACT) == 20  # the tutorial's 16, the facade errors, log-drop and drop counters, the printer's health
    assert {d.name for d in CONTRACT} <= {d.name for d in REGISTRY}
    assert REGISTRY["payment_latency_ms"].kind is Kind.HISTOGRAM
    assert REGISTRY["payment_latency_ms"].unit == "ms"
    assert REGISTRY["job_queue_depth"].kind is Kind.OBSERVABLE_GAUGE
    assert REGISTRY["ach_flagged_total"].layer == "ACH"
    assert {d.layer for d in REGISTRY.by_layer("SVC")} == {"SVC"}


def test_prometheus_series_are_the_contract_names():
    assert REGISTRY["payment_latency_ms"].prometheus_series == (
        "payment_latency_ms_bucket",
        "payment_latency_ms_sum",
        "payment_latency_ms_count",
    )
    assert REGISTRY["refund_pdf_total"].prometheus_series == ("refund_pdf_total",)
    assert prometheus_name("http.server.duration") == "http_server_duration"
    assert REGISTRY["job_fail_total"].prometheus_labels == ("queue", "error_type")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("9lives", "must start with an ASCII letter"),
        ("_hidden", "must start with an ASCII letter"),
        ("payment latency", "' ' at position 7"),
        ("latency{ms}", "'{' at position 7"),
        ("a" * 256, "at most 255"),
        ("crédit", "'é' at position 2"),
    ],
)
def test_invalid_names_say_which_rule(name, rule):
    with pytest.raises(MetricNameError, match=rule) as info:
        check_name(name)
    assert isinstance(info.value, ValueError)


def test_non_string_name():
    with pytest.raises(MetricNameError, match="must be a string"):
        check_name(42)


@pytest.mark.parametrize("name", ["a", "payment_latency_ms", "http.server.duration", "a-b/c", "A" * 255])
def test_valid_names(name):
    assert check_name(name) == name


def test_same_name_two_kinds_is_a_clear_error():
    registry = MetricRegistry([MetricDefinition("jobs_total", Kind.COUNTER, "{job}", layer="SVC")])
    with pytest.raises(MetricKindConflict, match=r"'jobs_total' is a counter \(HMS SVC contract\).*histogram"):
        registry.define("jobs_total", Kind.HISTOGRAM)
    with pytest.raises(MetricKindConflict, match="unit"):
        registry.resolve("jobs_total", Kind.COUNTER, "ms")
    assert registry.define("jobs_total", Kind.COUNTER, "{job}") is registry["jobs_total"]


def test_resolve_registers_new_names_once():
    registry = MetricRegistry()
    first = registry.resolve("new_thing_ms", Kind.HISTOGRAM, "ms")
    assert registry.resolve("new_thing_ms", Kind.HISTOGRAM, "ms") is first
    assert "new_thing_ms" in registry and len(registry) == 1


def _imported_modules(module: str) -> set[str]:
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }


def test_registry_and_contract_do_not_import_each_other_and_facades_register_nothing():
    assert "hms_otel.registry" not in _imported_modules("hms_otel.contract")
    assert "hms_otel.contract" not in _imported_modules("hms_otel.definitions")
    # Nothing at module level of metric.py touches the registry (functions may).
    tree = ast.parse(Path(importlib.util.find_spec("hms_otel.metric").origin).read_text())
    top_level = [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    registry_calls = [
        ast.unparse(call)
        for node in top_level
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and "REGISTRY" in ast.unparse(call.func)
    ]
    assert registry_calls == []
    assert REGISTRY["hms_otel_facade_errors_total"].kind is Kind.COUNTER


def test_import_hms_otel_knows_every_metric_the_sdk_setup_defines() -> None:
    """``import hms_otel`` is lazy (no SDK set-up), yet the registry that alert files and
    dashboards are checked against must hold the distro's own metrics (e.g. the log buffer's)."""
    import subprocess
    import sys

    script = (
        "import hms_otel; from hms_otel.registry import REGISTRY; before = {d.name for d in REGISTRY}; "
        "import hms_otel.sdk, hms_otel.agent; print(sorted({d.name for d in REGISTRY} - before))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize(
    ("first", "first_kind", "second", "second_kind", "series"),
    [
        ("r.dot_total", Kind.COUNTER, "r_dot_total", Kind.COUNTER, "r_dot_total"),
        ("r_wait_ms", Kind.HISTOGRAM, "r_wait_ms_count", Kind.COUNTER, "r_wait_ms_count"),
        ("r_lag_count", Kind.GAUGE, "r_lag", Kind.HISTOGRAM, "r_lag_count"),
    ],
)
def test_two_names_with_one_prometheus_series_are_a_conflict(first, first_kind, second, second_kind, series):
    """Both were taken: Prometheus got the same series name twice (from the collector and from /metrics)
    and kept one of the two series."""
    registry = MetricRegistry()
    registry.define(first, first_kind)
    with pytest.raises(MetricKindConflict, match=rf"^metric '{second}' would be '{series}' in Prometheus, which "
                                                  rf"metric '{re.escape(first)}' already is\. Pick another name\.$"):
        registry.define(second, second_kind)
    assert second not in registry
    registry.define(first, first_kind)  # the same definition again is still fine
