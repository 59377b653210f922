"""A child stopped by SIGTERM while its telemetry is still being reset after fork.

``Pool.terminate()`` does this to a worker that has not finished starting. The
reset is made to signal the child itself as it starts, so the race is hit every
time. Prints the child's exit status. Run under opentelemetry-instrument.
"""

import os
import signal

from hms_otel import _fastpath, metric

for _ in range(5):
    metric.increment("refund_pdf_total")

reset = _fastpath.reset_after_fork


def sigterm_then_reset() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # handled at once, before the reset goes on
    reset()


_fastpath.reset_after_fork = sigterm_then_reset
pid = os.fork()
if pid == 0:
    os._exit(0)  # not reached: SIGTERM's default kills the child
_fastpath.reset_after_fork = reset
_, status = os.waitpid(pid, 0)
print(f"child exited {os.waitstatus_to_exitcode(status)}", flush=True)
