"""Issue 3 acceptance on the shared stack: app -> collector -> Prometheus and VictoriaLogs, names and redaction."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

import pytest

from hms_otel.logstore import LogRecord, LogStore
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


def _records(stack: LocalStack, payments: dict) -> list[LogRecord]:
    store = LogStore(stack.victorialogs_url)
    start = dt.datetime.fromtimestamp(payments["start_ns"] / 1e9, dt.timezone.utc)
    found: list[list[LogRecord]] = [[]]

    def check() -> bool:
        found[0] = store.search("timed out", service="stack-payments", start=start)
        return bool(found[0])

    assert wait_until(check, timeout=60, interval=0.5), f"no record in VictoriaLogs ({stack.collector.log_path})"
    return found[0]


def test_log_found_by_service_and_time_with_pii_redacted(stack: LocalStack, payments: dict) -> None:
    records = _records(stack, payments)
    assert len(records) == 1
    record = records[0]
    assert "Payment #123 timed out" in record.message
    assert SSN not in record.message and "4111" not in record.message and "jane.doe@example.gov" not in record.message
    assert "****" in record.message
    assert record.fields["payment_id"] == "123"
    assert "jane.doe@example.gov" not in record.fields["contact"]


def test_stream_fields_are_service_layer_and_level_only(stack: LocalStack, payments: dict) -> None:
    record = _records(stack, payments)[0]
    assert (record.service, record.layer, record.level) == ("stack-payments", "ACH", "warn")
    rows = LogStore(stack.victorialogs_url).query('{"service.name"="stack-payments"} | fields _stream')
    streams = {row["_stream"] for row in rows}
    assert streams == {'{hms.layer="ACH",level="warn",service.name="stack-payments"}'}, streams


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
