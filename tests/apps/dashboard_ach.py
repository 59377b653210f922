"""Dashboard e2e app: a service in the ACH layer (HMS_LAYER=ACH) whose payments are slow.

Argv: STOP_FILE. Records ach_latency_ms and payment_latency_ms around 3 s, the printer's health and
refund PDFs every 0.1 s, and logs the cause of the slowness as an error (so the notifier finds a
probable source); prints "ready" after the first round, stops when STOP_FILE exists.
"""

import random
import sys
import time
from pathlib import Path

from hms_otel import metric

stop_file = Path(sys.argv[1])
first = True
rounds = 0
while not stop_file.exists():
    metric.observe("ach_latency_ms", random.uniform(2800, 3200), agency="dmv", outcome="cleared")
    metric.observe("payment_latency_ms", random.uniform(2800, 3200), step="charge")
    metric.increment("refund_pdf_total")
    metric.gauge("license_printer_health", 1.0, printer="counter-1")
    if rounds % 10 == 0:  # once a second: enough to stand out, little for the log store to count
        metric.log(f"Database connection pool exhausted (waited {random.uniform(2.7, 3.1):.1f} s for a connection)",
                   level="error")
    rounds += 1
    if first:
        print("ready", flush=True)
        first = False
    time.sleep(0.1)
