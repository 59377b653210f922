"""The recorded `<name>` series of millisecond histograms, and where `hms-ops up` looks for alerts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from hms_otel.registry import REGISTRY, Kind, MetricDefinition
from hms_otel.stack.builds import find_binary
from hms_otel.stack.lifecycle import choose_alert_folder, first_alert_metric, graph_url
from hms_otel.stack.packaged import example_alerts_dir
from hms_otel.stack.recorded import FILE_NAME, is_millisecond_histogram, recording_rules, write_recording_rules


def test_every_ms_histogram_of_the_registry_and_the_alerts_is_recorded_under_its_own_name() -> None:
    custom = MetricDefinition("refund_render_ms", Kind.HISTOGRAM, layer="custom")  # from an alert file: no unit
    rules = recording_rules([custom])["groups"][0]["rules"]  # type: ignore[index]
    recorded = {rule["record"]: rule["expr"] for rule in rules}
    expected = {d.name for d in REGISTRY if d.kind is Kind.HISTOGRAM and d.unit == "ms"} | {"refund_render_ms"}
    assert set(recorded) == expected
    assert recorded["payment_latency_ms"] == (
        "rate(payment_latency_ms_sum[30s]) / (rate(payment_latency_ms_count[30s]) > 0)"
    )
    # The bare name is free: a histogram only ever produces _bucket/_sum/_count.
    assert "payment_latency_ms" not in REGISTRY["payment_latency_ms"].prometheus_series
    assert not is_millisecond_histogram(REGISTRY["ach_batch_size"])  # a histogram, but not in ms
    assert not is_millisecond_histogram(REGISTRY["refund_pdf_total"])


def test_promtool_accepts_the_recording_rules(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    assert write_recording_rules(path, [MetricDefinition("checkout_ms", Kind.HISTOGRAM)])
    assert not write_recording_rules(path, [MetricDefinition("checkout_ms", Kind.HISTOGRAM)])  # unchanged
    checked = subprocess.run([str(find_binary("promtool")), "check", "rules", "--lint-fatal", str(path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert yaml.safe_load(path.read_text())["groups"][0]["rules"]


def test_alert_folder_choice(tmp_path: Path) -> None:
    none = choose_alert_folder(None, examples=False, cwd=tmp_path)
    # Nothing yet: the tutorial's folder is followed, and read once it appears.
    assert none.path == tmp_path / "alerts" and "create ./alerts/" in none.reason
    (tmp_path / "alert_rules").mkdir()
    assert choose_alert_folder(None, False, cwd=tmp_path).path == tmp_path / "alert_rules"
    (tmp_path / "alerts").mkdir()  # the tutorial's folder wins when both exist
    chosen = choose_alert_folder(None, False, cwd=tmp_path)
    assert chosen.path == tmp_path / "alerts" and chosen.reason == "alerts: watching ./alerts/"
    assert choose_alert_folder(None, True, cwd=tmp_path).path == example_alerts_dir()
    explicit = choose_alert_folder(tmp_path / "mine", True, cwd=tmp_path)
    assert explicit.path == tmp_path / "mine"


def test_the_examples_ship_in_the_package_and_the_graph_link_fills_the_query(tmp_path: Path) -> None:
    assert (example_alerts_dir() / "payment_latency_high.yml").is_file()
    (tmp_path / "a.yaml").write_text("# comment\nmetric:   esq_latency_ms\nwhen: avg_over_1m > 5\n")
    assert first_alert_metric(tmp_path) == "esq_latency_ms"
    (tmp_path / "b.yaml").write_text("metric: refund_pdf_total\n")
    assert first_alert_metric(tmp_path) == "esq_latency_ms"  # a latency graphs better than a counter
    (tmp_path / "c.yaml").write_text("metric: payment_latency_ms\n")
    assert first_alert_metric(tmp_path) == "payment_latency_ms"  # the tutorial's metric first
    assert first_alert_metric(example_alerts_dir()) == "payment_latency_ms"
    assert first_alert_metric(tmp_path / "absent") == "payment_latency_ms"
    assert graph_url("http://127.0.0.1:9090", "payment_latency_ms") == (
        "http://127.0.0.1:9090/graph?g0.expr=payment_latency_ms&g0.tab=0&g0.range_input=15m"
    )
