"""Logs durability app: run under `opentelemetry-instrument`; logs "steady N" at RATE records/s until STOP_FILE
exists (or SIGTERM), then exits normally (the SDK flushes at exit).

Argv: STOP_FILE RATE. Prints "ready" after the first record and, per record, nothing; the final line is the
number of records emitted. For SIGTERM, COUNT_FILE (STOP_FILE + ".count") names the record being logged, written
just before it is: the process dies in hms_otel's handler with records 1..N-1 or 1..N logged.

Why not block SIGTERM around "log, then count": the mask is per thread. The kernel hands the signal to one of
the SDK's threads instead, and Python runs the handler in the main thread at its next bytecode, inside the
"blocked" section (CI once stored 201 records for a count file saying 200).
"""

import logging
import os
import sys
import time
from pathlib import Path

stop_file, rate = Path(sys.argv[1]), float(sys.argv[2])
count_file = Path(str(stop_file) + ".count")
log = logging.getLogger("steady")
log.setLevel(logging.INFO)
count = 0
next_at = time.monotonic()
while not stop_file.exists():
    count += 1
    partial = count_file.with_suffix(".partial")
    partial.write_text(str(count))
    os.replace(partial, count_file)
    log.info("steady %d", count, extra={"seq": count})
    if count == 1:
        print("ready", flush=True)
    next_at += 1 / rate
    time.sleep(max(0.0, next_at - time.monotonic()))
print(count, flush=True)
