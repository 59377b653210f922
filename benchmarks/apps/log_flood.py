"""Run under `opentelemetry-instrument`: log through Python `logging` for SECONDS, as fast as possible (RATE 0)
or at RATE records/s, then exit (the SDK flushes at exit). Prints one JSON line: emitted, seconds, dropped."""

import json
import logging
import sys
import time

from hms_otel import logbuffer

seconds, rate = float(sys.argv[1]), float(sys.argv[2])
log = logging.getLogger("flood")
log.setLevel(logging.INFO)
count, started, started_wall = 0, time.perf_counter(), time.time()
deadline = started + seconds
while True:
    now = time.perf_counter()
    if now >= deadline:
        break
    count += 1
    log.info("flood record %d for the throughput benchmark", count, extra={"seq": count})
    if rate:
        time.sleep(max(0.0, started + count / rate - time.perf_counter()))
elapsed = time.perf_counter() - started
# At exit the SDK flushes; drops counted after this line (shutdown) go to stderr.
report = {"emitted": count, "seconds": elapsed, "started": started_wall, "dropped": logbuffer.dropped()}
print(json.dumps(report), flush=True)
