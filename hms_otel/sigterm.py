"""Flush telemetry on SIGTERM, chained to whatever SIGTERM handling was there.

Python's default for SIGTERM kills the process without running ``atexit``,
so an application stopped by its supervisor (systemd, Kubernetes, ``kill``)
lost its last export interval. :func:`flush_on_sigterm` installs a handler
that flushes (bounded by ``HMS_OTEL_SHUTDOWN_TIMEOUT``) and then does what
would have happened without it:

- a Python handler installed before ours (by the app or its server) is called
  next, with the same arguments, so its graceful shutdown still runs;
- with the default disposition the handler is reset and the signal re-raised,
  so the process still dies "killed by SIGTERM" (exit status -15 / 143);
- an ignored SIGTERM stays ignored (after the flush).

Handlers installed *after* ours (gunicorn workers, uvicorn, celery replace the
SIGTERM handler when they start) are left alone: they turn SIGTERM into a
graceful exit of the interpreter, and the distro's ``atexit`` hook flushes
then. What is not covered: a later handler that ends the process with
``os._exit`` or by re-raising the signal under the default disposition.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_MARK = "_hms_otel_sigterm"


def flush_on_sigterm(on_signal: Callable[[bool], object]) -> bool:
    """Install the chaining SIGTERM handler; ``on_signal(terminating)`` does the
    (bounded) flush, ``terminating`` telling whether the process dies right after.

    Returns False where Python allows no handler (not the main thread); the
    ``atexit`` flush still covers normal exits there.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if getattr(previous, _MARK, False):
        return True  # already installed (configurator and OPSAgent both ran)

    def handler(signum: int, frame: FrameType | None) -> Any:
        terminating = not callable(previous) and previous != signal.SIG_IGN
        try:
            on_signal(terminating)
        except Exception:  # a failed flush must not change how the process stops
            pass
        if callable(previous):
            return previous(signum, frame)
        if previous == signal.SIG_IGN:
            return None
        # SIG_DFL, or a handler installed from C (None): die the way the default would.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return None

    setattr(handler, _MARK, True)
    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        return False
    return True
