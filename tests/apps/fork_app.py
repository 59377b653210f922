"""gunicorn --preload in miniature: record in the parent, fork, record in the child.

Prints the child's pid and exit status. Run under opentelemetry-instrument.
"""

import os
import sys

from hms_otel import metric

PARENT_CALLS, CHILD_CALLS = 5, 3

for _ in range(PARENT_CALLS):
    metric.increment("refund_pdf_total")

pid = os.fork()
if pid == 0:
    for _ in range(CHILD_CALLS):
        metric.increment("refund_pdf_total")
    metric.log("from the child")
    sys.exit(0)  # normal interpreter exit, so the child flushes like a worker would

_, status = os.waitpid(pid, 0)
print(f"child {pid} exited {os.waitstatus_to_exitcode(status)}", flush=True)
