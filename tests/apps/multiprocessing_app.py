"""A multiprocessing child that records and ends before any export interval.

Argv: START_METHOD (fork, forkserver). The child ends the way multiprocessing
ends it, with ``os._exit`` (no ``atexit``). Run under opentelemetry-instrument
with a long export interval: what the child recorded arrives only if it is
flushed when the child ends.
"""

import multiprocessing
import sys

from hms_otel import metric

PARENT_CALLS, CHILD_CALLS = 5, 3


def child() -> None:
    for _ in range(CHILD_CALLS):
        metric.increment("refund_pdf_total")
    metric.log("from the multiprocessing child")


if __name__ == "__main__":
    for _ in range(PARENT_CALLS):
        metric.increment("refund_pdf_total")
    process = multiprocessing.get_context(sys.argv[1]).Process(target=child)
    process.start()
    process.join()
    print(f"child exited {process.exitcode}", flush=True)
