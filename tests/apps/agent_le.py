"""A histogram recorded with an attribute named `le`, beside a plain counter, exporting over OTLP.
Argv: STOP_FILE. Prints "ready" once recorded, then waits until STOP_FILE exists."""

import sys
import time
from pathlib import Path

from hms_otel import metric

metric.increment("le_beside_total", 3)
metric.observe("le_attribute_ms", 5, le="fast")
metric.observe("le_plain_ms", 5)
print("ready", flush=True)
while not Path(sys.argv[1]).exists():
    time.sleep(0.2)
