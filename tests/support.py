"""Helpers for tests that run apps under ``opentelemetry-instrument`` (imported, not fixtures)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

APPS = Path(__file__).parent / "apps"
OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")


def instrumented_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Environment for an app exporting to ``endpoint``, fast intervals, and no
    ``OTEL_*``/``HMS_*`` leaking in from the test process."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "HMS_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_BLRP_SCHEDULE_DELAY="500",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def eventually(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.1) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail the
    test after ``timeout`` seconds, saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def instrumented_argv(app: str | Path, args: Iterable[object] = ()) -> list[str]:
    """``opentelemetry-instrument python APP ARGS``; a bare name means ``tests/apps/<name>.py``."""
    path = app if isinstance(app, Path) else APPS / (app if app.endswith(".py") else f"{app}.py")
    return [str(OPENTELEMETRY_INSTRUMENT), sys.executable, str(path), *map(str, args)]
