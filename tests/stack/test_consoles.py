"""The generated HMS layer console, rendered by the real Prometheus."""

from __future__ import annotations

import urllib.request

import pytest

from hms_otel.stack import LocalStack
from hms_otel.stack.consoles import CONSOLE_NAME, render_layers_console
from hms_otel.stack.processes import wait_until

RULE = """groups:
  - name: console-test
    rules:
      - alert: EsqAlwaysFiring
        expr: vector(1)
        labels:
          layer: ESQ
"""


def _page(stack: LocalStack) -> str:
    with urllib.request.urlopen(f"{stack.prometheus_url}/consoles/{CONSOLE_NAME}", timeout=10) as response:
        return response.read().decode()


def test_console_lists_every_layer_and_contract_metric() -> None:
    page = render_layers_console()
    for layer in ("ACH", "SVC", "A2A", "ACT", "ESQ", "quick start"):
        assert f"{layer}: OK" in page
    for name in ("payment_latency_ms", "refund_pdf_total", "job_queue_depth", "esq_latency_ms"):
        assert f">{name}</a>" in page


@pytest.mark.e2e
def test_layer_turns_red_while_one_of_its_alerts_fires(isolated_stack: LocalStack) -> None:
    page = _page(isolated_stack)
    assert "ESQ: OK" in page and "ACH: OK" in page
    (isolated_stack.rules_dir / "console-test.yml").write_text(RULE)
    isolated_stack.reload_prometheus()
    assert wait_until(lambda: "ESQ: 1 alert(s) firing" in _page(isolated_stack), timeout=30), _page(isolated_stack)
    assert "ACH: OK" in _page(isolated_stack)
