"""Logs e2e app: run under `opentelemetry-instrument`; logs MARKER records through metric.log and Python logging.

Argv: MARKER. Emits, in this order, one second apart so a time range can separate them:
  metric.log   "MARKER facade warning" (warning, attribute order_id=A-1001)
  logging      "MARKER logging error"  (logger payments.gateway, ERROR)
  logging      "MARKER logging info"   (INFO)
Prints a JSON line with the unix time (ns) each one was emitted.
"""

import json
import logging
import sys
import time

from hms_otel import metric

marker = sys.argv[1]
log = logging.getLogger("payments.gateway")
log.setLevel(logging.INFO)
sent = {}
sent["facade"] = time.time_ns()
metric.log(f"{marker} facade warning", level="warning", order_id="A-1001")
time.sleep(1.0)
sent["error"] = time.time_ns()
log.error("%s logging error", marker)
time.sleep(1.0)
sent["info"] = time.time_ns()
log.info("%s logging info", marker)
print(json.dumps(sent), flush=True)
