"""Issue 13 class 1 app: 80,000 series from one process (40 counters of 2,000 series: the SDK's
per-instrument cardinality limit), left to the periodic exports for a few intervals, then a normal exit."""

import time

from hms_otel import metric

for m in range(40):
    for i in range(2000):
        metric.increment(f"series_{m}_total", order=f"order-{i:05d}")
print("recorded", flush=True)
time.sleep(8)
