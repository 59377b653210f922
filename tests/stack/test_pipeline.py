"""Issue 3 acceptance on the shared stack: app -> collector -> Prometheus and Loki, names and redaction."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from hms_otel.stack import LocalStack
from hms_otel.stack.processes import wait_until

pytestmark = pytest.mark.e2e

CALLS, REFUNDS, SLEEP_MS = 25, 7, 5.0
SSN = "123-45-6789"


@pytest.fixture(scope="module")
def payments(stack: LocalStack, run_app) -> dict:
    """Run the payments app once; return what it sent plus the time window of the run."""
    start_ns = time.time_ns()
    message = f"Payment #123 timed out for citizen {SSN}, card 4111 1111 1111 1111, mail jane.doe@example.gov"
    done = run_app(
        stack, "stack_payments", CALLS, REFUNDS, SLEEP_MS, message, service_name="stack-payments", HMS_LAYER="ACH"
    )
    sent = json.loads(done.stdout.strip().splitlines()[-1])
    return {**sent, "start_ns": start_ns, "end_ns": time.time_ns() + 60 * 10**9}


def test_histogram_count_and_sum_arrive_under_contract_names(stack: LocalStack, payments: dict) -> None:
    job = '{job="stack-payments"}'
    assert stack.wait_for(f"sum(payment_latency_ms_count{job})", lambda v: v == CALLS) == CALLS
    total_ms = stack.query_value(f"sum(payment_latency_ms_sum{job})")
    # The app's timer clock advances exactly SLEEP_MS per call: the sum is exact, in milliseconds.
    assert total_ms == pytest.approx(CALLS * SLEEP_MS, abs=1e-6)
    assert stack.query_value('sum(payment_latency_ms_bucket{job="stack-payments",le="+Inf"})') == CALLS


def test_counter_equals_increments(stack: LocalStack, payments: dict) -> None:
    assert stack.wait_for('sum(refund_pdf_total{job="stack-payments"})', lambda v: v == REFUNDS) == REFUNDS


def test_no_suffixed_variants_of_contract_names(stack: LocalStack, payments: dict) -> None:
    stack.wait_for('sum(refund_pdf_total{job="stack-payments"})', lambda v: v == REFUNDS)
    names = {
        series["metric"]["__name__"] for series in stack.query('{job="stack-payments", __name__=~"payment.*|refund.*"}')
    }
    assert names == {
        "payment_latency_ms_bucket",
        "payment_latency_ms_sum",
        "payment_latency_ms_count",
        "refund_pdf_total",
    }


def _loki_streams(stack: LocalStack, payments: dict) -> list[dict]:
    assert stack.loki is not None
    loki = stack.loki
    query = '{service_name="stack-payments"} |= "Payment #123"'
    found: list[list[dict]] = [[]]

    def check() -> bool:
        found[0] = loki.query_range(query, payments["start_ns"], payments["end_ns"])
        return bool(found[0])

    assert wait_until(check, timeout=60, interval=1), f"no log line for {query} in Loki ({loki.log_path})"
    return found[0]


def test_log_found_in_loki_by_service_and_time_with_pii_redacted(stack: LocalStack, payments: dict) -> None:
    streams = _loki_streams(stack, payments)
    lines = [value[1] for stream in streams for value in stream["values"]]
    assert len(lines) == 1
    line = lines[0]
    assert "Payment #123 timed out" in line
    assert SSN not in line and "4111" not in line and "jane.doe@example.gov" not in line
    assert "****" in line
    # Attributes arrive as structured metadata (merged into the stream in Loki's default encoding).
    metadata = streams[0]["stream"]
    assert metadata["payment_id"] == "123"
    assert metadata["contact"] == "****"


def test_loki_index_labels_are_service_layer_and_level_only(stack: LocalStack, payments: dict) -> None:
    streams = _loki_streams(stack, payments)
    labels = streams[0]["stream"]
    assert labels["service_name"] == "stack-payments"
    assert labels["hms_layer"] == "ACH"
    assert labels["level"] == "warn"
    assert stack.loki is not None
    index_labels = set(json.loads(urllib.request.urlopen(f"{stack.loki_url}/loki/api/v1/labels").read())["data"])
    assert "service_instance_id" not in index_labels
    assert index_labels <= {"service_name", "hms_layer", "level"}, index_labels


def test_otlp_http_receiver_allows_cors_preflight_from_local_front_end(stack: LocalStack) -> None:
    request = urllib.request.Request(
        f"{stack.otlp_http_endpoint}/v1/metrics",
        method="OPTIONS",
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status in (200, 204)
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
