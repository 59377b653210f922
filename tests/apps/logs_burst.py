"""Run under `opentelemetry-instrument` with a tiny SDK log queue: logs COUNT records at once, so most are
dropped at the full queue; prints the drops the app counted as JSON."""

import json
import logging
import sys

from hms_otel import logbuffer

log = logging.getLogger("burst")
log.setLevel(logging.INFO)
for i in range(int(sys.argv[1])):
    log.info("burst record %d", i)
print(json.dumps(logbuffer.dropped()), flush=True)
