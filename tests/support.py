"""Helpers for tests that run apps under ``opentelemetry-instrument`` (imported, not fixtures)."""

from __future__ import annotations

import os
import secrets
import string
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from hms_otel.stack import LocalStack

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


def log_marker(prefix: str) -> str:
    """A word no other record holds, for finding a test's log records: ``prefix`` and 12 random letters.

    Letters only: the stack masks nine digits in a row as a social security number (hms_otel.pii), and a
    random hex marker holds such a run about one time in fifty, so its records could never be found."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def instrumented_argv(app: str | Path, args: Iterable[object] = ()) -> list[str]:
    """``opentelemetry-instrument python APP ARGS``; a bare name means ``tests/apps/<name>.py``."""
    path = app if isinstance(app, Path) else APPS / (app if app.endswith(".py") else f"{app}.py")
    return [str(OPENTELEMETRY_INSTRUMENT), sys.executable, str(path), *map(str, args)]


def _metric_lines(url: str, keep: Callable[[str], bool]) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
    except OSError as error:
        return f"  (could not read {url}: {error})"
    return "\n".join(f"  {line}" for line in text.splitlines() if not line.startswith("#") and keep(line)) or "  (none)"


def _warnings(path: Path, lines: int = 10) -> str:
    """The last warning and error lines of a collector log (its info lines say nothing about lost data)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"  (could not read {path}: {error})"
    found = [line[:500] for line in text.splitlines() if "\twarn\t" in line or "\terror\t" in line]
    return "\n".join(f"  {line}" for line in found[-lines:]) or "  (none)"


def log_pipeline_report(stack: LocalStack, marker: str = "") -> str:
    """Where log records stopped, for a test's failure message: the collector's own counts of log records
    (received, refused, queued, sent, failed) and its warnings, the log store's ingest and drop counts and
    its warnings, and the records holding ``marker`` whatever their stream."""
    from hms_otel.logstore import LogStore
    from hms_otel.stack.processes import log_tail

    collector = stack.collector
    parts = [
        "the collector's log-record counts:",
        _metric_lines(f"http://127.0.0.1:{collector.telemetry_port}/metrics",
                      lambda line: "log_records" in line or ("queue_size" in line and "logs" in line)),
        f"the collector's warnings and errors:\n{_warnings(collector.log_path)}",
    ]
    store = stack.victorialogs
    if store is not None:
        parts += [
            "the log store's OTLP ingest and drop counts:",
            _metric_lines(f"{store.url}/metrics", lambda line: ("opentelemetry" in line and line.startswith(
                ("vl_rows_ingested_total", "vl_http_errors_total", "vl_http_requests_total")
            )) or line.startswith(("vl_rows_dropped_total", "vl_too_long_lines"))),
            f"the log store's last log lines:\n{log_tail(store.log_path, 10)}",
        ]
        if marker:
            try:
                rows: list[dict[str, str]] = LogStore(store.url).query(f'"{marker}" | fields _time, _stream, _msg')
            except Exception as error:  # a report must not hide the failure it reports
                rows = [{"query failed": str(error)}]
            parts.append(f"records holding {marker!r}, in any stream: {rows}")
    return "\n".join(parts)
