"""Stack e2e app: run under `opentelemetry-instrument`; makes a known number of facade calls, then exits.

Argv: CALLS REFUNDS SLEEP_MS LOG_MESSAGE. Prints a JSON line with what it sent.
"""

import itertools
import json
import sys
import time

from hms_otel import metric

calls, refunds, sleep_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
message = sys.argv[4]

# A clock that advances exactly SLEEP_MS between a timer's two readings, so the
# test can check payment_latency_ms_sum to the millisecond after the whole pipeline.
_ticks = itertools.count()
metric._perf_counter = lambda: next(_ticks) * sleep_ms / 1000


@metric.timer("payment_latency_ms")
def pay() -> None:
    time.sleep(sleep_ms / 1000)


for _ in range(calls):
    pay()
for _ in range(refunds):
    metric.increment("refund_pdf_total")
metric.log(message, level="warning", payment_id="123", contact="jane.doe@example.gov")
print(json.dumps({"calls": calls, "refunds": refunds, "sleep_ms": sleep_ms}), flush=True)
