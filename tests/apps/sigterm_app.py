"""Issue 13 class 2 app: COUNT increments and COUNT logs, then wait to be stopped by SIGTERM.

Argv: COUNT MODE. MODE ``default`` leaves SIGTERM to the distro; ``app-handler`` installs the app's own
handler after the distro's (as gunicorn, uvicorn or celery do), which exits normally. Prints "ready".
"""

import signal
import sys
import time

from hms_otel import metric

count, mode = int(sys.argv[1]), sys.argv[2]
if mode == "app-handler":

    def on_term(signum: int, frame: object) -> None:
        print("app handler ran", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)

for i in range(count):
    metric.increment("refund_pdf_total")
    metric.log(f"sigterm-log-{i}")
print("ready", flush=True)
while True:
    time.sleep(1)
