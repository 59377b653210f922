"""Stack e2e app: declares counters and never increments them, then waits until STOP_FILE exists.

Argv: STOP_FILE. Prints "ready" once declared. Under opentelemetry-instrument the ACH layer
instrumentation (installed with the examples) is loaded too, and never called.
"""

import sys
import time
from pathlib import Path

from hms_otel import metric

metric.declare("refund_pdf_total", {"channel": "web"}, {"channel": "app"})
print("ready", flush=True)
stop_file = Path(sys.argv[1])
while not stop_file.exists():
    time.sleep(0.2)
