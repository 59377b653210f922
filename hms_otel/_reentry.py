"""Facades called while a facade of the same thread is running: from a signal handler, or from the
``__str__``/``__float__``/``__hash__`` of another facade's argument.

A signal handler runs on the main thread between two bytecodes, possibly while that thread is inside a
facade holding a lock. A facade called from the handler (counting a SIGTERM, a watchdog alarm) then waits
for a lock its own thread holds, which never comes free: the process hangs for good. Two parts prevent it:

- hms_otel's own locks on the call path are re-entrant (:func:`facade_lock`, as ``logging``'s are for the
  same reason), and the sections they guard stay correct when a nested call runs in their middle: they
  publish what they create with ``dict.setdefault`` (or an ``is None`` test and an assignment with no call
  between, where no handler can run), so the nested and the interrupted call end up with the same object;
- OpenTelemetry's locks (creating an instrument, adding through the SDK, emitting a log record) are not
  ours to change, so every facade step that may take one is :func:`deferred_when_nested`: called while
  another such step of the same thread is running, it is queued, and runs as soon as that step returns.

The common call (a measurement into a series already in use) takes no lock that it would wait for, and
pays nothing for this.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec

_P = ParamSpec("_P")
_log = logging.getLogger("hms_otel")


def facade_lock() -> threading.RLock:
    """The lock a facade path may take (see the module's docstring)."""
    return threading.RLock()


class _Inside(threading.local):
    def __init__(self) -> None:
        self.step = False  # a deferrable step is running on this thread
        # Steps called meanwhile on this thread. Run by this thread only: run by another, they could wait for
        # a lock this one holds while holding one it waits for.
        self.waiting: deque[tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]] = deque()


_inside = _Inside()


def nested() -> bool:
    """Whether this thread is inside a deferrable step (so it must not take OpenTelemetry's locks now)."""
    return _inside.step


def deferred_when_nested(step: Callable[_P, None]) -> Callable[_P, None]:
    """``step`` (which returns nothing) runs at once, or, called while another such step of this thread
    is running, is queued and runs right after it."""

    @functools.wraps(step)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        inside = _inside
        if inside.step:
            inside.waiting.append((step, args, kwargs))
            return
        try:
            _run(inside, step, args, kwargs)
        finally:
            if inside.waiting:
                _run_waiting(inside)

    return guarded


@contextlib.contextmanager
def step() -> Iterator[None]:
    """Run a block that takes OpenTelemetry's locks (setting up the SDK, binding a timer) as a step: a facade
    called meanwhile by a handler of this thread waits until the block is done. Inside a step it just runs."""
    inside = _inside
    if inside.step:
        yield
        return
    inside.step = True
    try:
        yield
    finally:
        inside.step = False
        if inside.waiting:
            _run_waiting(inside)


def _run(inside: _Inside, step: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    inside.step = True
    try:
        step(*args, **kwargs)
    finally:
        inside.step = False


def _run_waiting(inside: _Inside) -> None:
    """Run what a handler or a callback queued meanwhile, now that no lock of this thread is held: in a
    loop, not from each step's end, so a long queue (a handler firing all along) does not nest calls."""
    while True:
        try:
            step, args, kwargs = inside.waiting.popleft()
        except IndexError:  # a handler between the test and the pop may have run the rest
            return
        try:
            _run(inside, step, args, kwargs)
        except Exception:  # the steps count their own failures; this one must not reach the interrupted app
            _log.debug("hms_otel: a deferred facade step failed", exc_info=True)
