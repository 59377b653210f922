"""Stack e2e app: increments refund_pdf_total every TICK seconds until STOP_FILE exists.

Argv: STOP_FILE TICK. Writes "ready" on its first line once the first increment is done and the final
count as the last line when it stops (after which the SDK shuts down and flushes).
"""

import sys
import time
from pathlib import Path

from hms_otel import metric

stop_file, tick = Path(sys.argv[1]), float(sys.argv[2])
count = 0
while not stop_file.exists():
    metric.increment("refund_pdf_total")
    count += 1
    if count == 1:
        print("ready", flush=True)
    time.sleep(tick)
print(count, flush=True)
