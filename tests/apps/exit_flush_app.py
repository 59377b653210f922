"""Records COUNT increments and one log, prints "ready" and ends normally: all of it leaves in the exit flush.

Argv: COUNT. Run under opentelemetry-instrument with long export intervals.
"""

import sys

from hms_otel import metric

for _ in range(int(sys.argv[1])):
    metric.increment("refund_pdf_total")
metric.log("exit-flush-log")
print("ready", flush=True)
