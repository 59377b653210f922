"""Logs durability app: run under `opentelemetry-instrument`; logs "steady N" at RATE records/s until STOP_FILE
exists (or SIGTERM), then exits normally (the SDK flushes at exit).

Argv: STOP_FILE RATE. Prints "ready" after the first record and, per record, nothing; the final line is the
number of records emitted. With SIGTERM the count so far is in COUNT_FILE (STOP_FILE + ".count"), rewritten
after every record.
"""

import logging
import os
import signal
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
    # SIGTERM waits until the record is logged and counted, so the count file always names what was logged.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    count += 1
    log.info("steady %d", count, extra={"seq": count})
    partial = count_file.with_suffix(".partial")
    partial.write_text(str(count))
    os.replace(partial, count_file)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if count == 1:
        print("ready", flush=True)
    next_at += 1 / rate
    time.sleep(max(0.0, next_at - time.monotonic()))
print(count, flush=True)
