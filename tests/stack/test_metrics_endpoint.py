"""OPSAgent's /metrics says what the HMS collector says in Prometheus: the same labels for the same
attributes, and valid text for promtool."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hms_otel.stack import LocalStack
from hms_otel.stack.builds import find_binary

pytestmark = pytest.mark.e2e

#: Labels Prometheus adds to every series of a target, not the app's attributes.
TARGET_LABELS = {"__name__", "job", "instance"}


def test_metrics_endpoint_labels_are_the_collectors(stack: LocalStack, start_app, tmp_path) -> None:
    """/metrics wrote `{1abc="d"}` (Prometheus refused the whole scrape), one `a_b` label of two, `True`,
    `1.0` and `('a', 'b')` where the collector writes `key_1abc`, `a_b="dd;dot;under"`, `true`, `1` and
    `["a","b"]`, and one name from two scopes as two `# TYPE` blocks of equal series."""
    stop = tmp_path / "stop"
    app = start_app(stack, "agent_labels", stop, service_name="agent-labels", OTEL_METRIC_EXPORT_INTERVAL="500")
    try:
        assert app.stdout is not None
        url = app.stdout.readline().strip()
        assert url.startswith("http://"), app.stderr.read() if app.stderr else url
        with urllib.request.urlopen(url, timeout=30) as answer:
            text = answer.read().decode()
        checked = subprocess.run([str(find_binary("promtool")), "check", "metrics"], input=text,
                                 capture_output=True, text=True, timeout=60)
        problems = [line for line in checked.stderr.splitlines() if not line.endswith(" no help text")]
        assert checked.returncode in (0, 3) and not problems, checked.stderr + text
        served = {
            (sample.name, tuple(sorted(sample.labels.items())))
            for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name.startswith("agent_")
        }
        selector = '{__name__=~"agent_.*", job="agent-labels"}'
        stack.wait_for(f"count({selector})", lambda v: v == 3, timeout=60)
        collected = set()
        for series in stack.query(selector):
            labels = {k: v for k, v in series["metric"].items() if k not in TARGET_LABELS}
            if series["metric"]["__name__"] == "agent_labels_total":  # one scope only: /metrics leaves it out
                labels = {k: v for k, v in labels.items() if not k.startswith("otel_scope_")}
            collected.add((series["metric"]["__name__"], tuple(sorted(labels.items()))))
        assert served == collected
    finally:
        stop.touch()
        app.wait(timeout=30)


def test_a_histogram_attribute_named_le_does_not_lose_the_batch(stack: LocalStack, start_app, tmp_path) -> None:
    """Prometheus refused the collector's whole remote write over it ("label name "le" is not unique"): the
    counter recorded beside it never reached Prometheus. Now that observation is skipped and counted."""
    stop = tmp_path / "stop"
    app = start_app(stack, "agent_le", stop, service_name="agent-le", OTEL_METRIC_EXPORT_INTERVAL="500")
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        assert stack.wait_for('sum(le_beside_total{job="agent-le"})', lambda v: v == 3, timeout=60) == 3
        assert stack.query_value('sum(le_plain_ms_count{job="agent-le"})') == 1
        errors = 'sum(hms_otel_facade_errors_total{job="agent-le",metric="le_attribute_ms"})'
        assert stack.wait_for(errors, lambda v: v == 1, timeout=60) == 1
    finally:
        stop.touch()
        app.wait(timeout=30)
