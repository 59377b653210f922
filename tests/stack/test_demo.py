"""The demo service logs the realistic cause of its slowdown (the notifier's probable source)."""

from __future__ import annotations

from unittest import mock

from hms_otel.notify.source import most_frequent
from hms_otel.stack import demo


def test_slow_payments_log_the_cause_as_an_error() -> None:
    logged: list[tuple[str, str]] = []
    with mock.patch.object(demo.metric, "log", lambda text, level="info", **_: logged.append((text, level))), \
            mock.patch.object(demo.time, "sleep", lambda _seconds: None):
        for order in range(1, 6):
            demo.charge(order, 11_000)
        demo.charge(50, 800)
    errors = [text for text, level in logged if level == "error"]
    assert len(errors) == 5 and all(t.startswith("Database connection pool exhausted (waited ") for t in errors)
    assert most_frequent([(text, 1) for text, _level in logged]).startswith("Database connection pool exhausted")
