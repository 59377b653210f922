"""Issue 13 class 1 app: one increment with a 5 MB attribute value, then 200 normal ones over several
export intervals (the oversized set stays in the SDK's cumulative state for every later export)."""

import time

from hms_otel import metric

metric.increment("refund_pdf_total", kind="huge", note="x" * 5_000_000)
for i in range(200):
    metric.increment("refund_pdf_total", kind="normal")
    if i % 50 == 49:
        time.sleep(1.2)
