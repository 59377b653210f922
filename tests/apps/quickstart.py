"""The tutorial's quick start, with no telemetry set-up in the code.

Run: opentelemetry-instrument python tests/apps/quickstart.py [CALLS]
"""

import logging
import sys
import time

from hms_ops import metric


@metric.timer("payment_latency_ms")
def pay(order: int) -> str:
    time.sleep(0.001)
    return f"paid {order}"


def main(calls: int) -> None:
    for order in range(calls):
        pay(order)
        metric.increment("refund_pdf_total")
    metric.gauge("citizen_satisfaction_score", 0.93, page="renewal")
    metric.log("Payment #123 timed out", level="warning", order_ref="123")
    logging.getLogger("quickstart").warning("stdlib logging reaches OTel too")
    print(f"sent {calls}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
