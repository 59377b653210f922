"""Series exist from the start: a declared counter is 0 in Prometheus before its first increment."""

from __future__ import annotations

import pytest

from hms_otel.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_declared_counter_is_zero_in_prometheus_without_any_increment(stack: LocalStack, start_app, tmp_path) -> None:
    stop = tmp_path / "stop"
    app = start_app(stack, "declared_app", stop, service_name="declared-app")
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        for channel in ("web", "app"):
            selector = f'refund_pdf_total{{job="declared-app",channel="{channel}"}}'
            assert stack.wait_for(f"count({selector})", lambda v: v == 1, timeout=60) == 1
            assert stack.query_value(f"sum({selector})") == 0
        # The ACH layer instrumentation's counter, never called: its series without attributes, at 0.
        layer = 'ach_flagged_total{job="declared-app"}'
        assert stack.wait_for(f"count({layer})", lambda v: v == 1, timeout=60) == 1
        assert stack.query_value(f"sum({layer})") == 0
    finally:
        stop.touch()
        app.wait(timeout=30)
