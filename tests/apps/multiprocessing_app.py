"""A multiprocessing child that records and ends before any export interval.

Argv: START_METHOD (fork, forkserver) [pool]. The child ends the way
multiprocessing ends it, with ``os._exit`` (no ``atexit``); with ``pool``, two
tasks run in a ``with Pool(2)`` block, whose exit terminates the workers
(SIGTERM) while they may be ending already. Run under opentelemetry-instrument
with a long export interval: what the child recorded arrives only if it is
flushed when the child ends.
"""

import multiprocessing
import sys

from hms_otel import metric

PARENT_CALLS, CHILD_CALLS = 5, 3


def child(_task: object = None) -> None:
    for _ in range(CHILD_CALLS):
        metric.increment("refund_pdf_total")
    metric.log("from the multiprocessing child")


if __name__ == "__main__":
    for _ in range(PARENT_CALLS):
        metric.increment("refund_pdf_total")
    context = multiprocessing.get_context(sys.argv[1])
    if sys.argv[2:] == ["pool"]:
        with context.Pool(2) as pool:
            pool.map(child, range(2), chunksize=1)
        print("pool done", flush=True)
    else:
        process = context.Process(target=child)
        process.start()
        process.join()
        print(f"child exited {process.exitcode}", flush=True)
