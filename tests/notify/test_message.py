"""The words on the phone: units for people, the tutorial's format, one 160-character segment."""

from __future__ import annotations

import pytest

from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.message import SEGMENT, Message, compose, render_template
from hms_otel.notify.source import most_frequent, normalise
from hms_otel.notify.units import format_value


def event(value: str = "2934.5", message: str = "Payment latency {{value}} ms (>2 s)", status: str = "firing",
          **annotations: str) -> AlertEvent:
    return AlertEvent(status=status, name="payment_latency_high", fingerprint="f1", starts_at="2026-11-26T19:00:00Z",
                      ends_at="", labels={"job": "payments", "severity": "critical", "layer": "quick start"},
                      annotations={"hms_metric": "payment_latency_ms", "hms_op": ">", "hms_threshold": "2000",
                                   "hms_unit": "ms", "hms_value": value, "hms_message": message, **annotations})


@pytest.mark.parametrize(("value", "unit", "text"), [
    (2934.5, "ms", "2.9 s"), (850, "ms", "850 ms"), (2000, "ms", "2 s"), (11_000, "ms", "11 s"),
    (12.4, "ms", "12 ms"), (0.5, "ms", "0.5 ms"), (150_000, "ms", "2.5 min"), (7, "{payment}", "7 payments"),
    (1, "{payment}", "1 payment"),
    (200, "{activity}", "200 activities"), (3, "{entry}", "3 entries"), (120, "{job}", "120 jobs"),
    (0.25, "{job}/s", "0.25 jobs/s"),
    (0.87, "1", "0.87"), (2_500_000, "By", "2.5 MB"), (15_300, "", "15k"),
])
def test_values_read_as_people_say_them(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_the_tutorial_text() -> None:
    message = compose(event(), "Database connection pool exhausted")
    assert message.lines == [
        "[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)",
        "Payment latency 2.9 s (>2 s)",
        "Probable source: Database connection pool exhausted",
    ]
    # 163 characters in full: the alert's own message (it repeats the headline) gives way first.
    message = compose(event(), "Database connection pool exhausted (waited 9.8 s for a connection)")
    assert message.lines == [
        "[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)",
        "Payment latency 2.9 s…",
        "Probable source: Database connection pool exhausted (waited 9.8 s for a connection)",
    ]
    assert len(message.text) <= SEGMENT


@pytest.mark.parametrize(("value", "shown"), [
    ("2040", "2.04 s"), ("2000.4", "2.0004 s"), ("2049.9", "2.05 s"), ("2900", "2.9 s"), ("11000", "11 s"),
])
def test_a_value_never_reads_as_the_threshold_it_crossed(value: str, shown: str) -> None:
    message = compose(event(value), None)
    assert message.lines == [f"[HMS-OPS] ALERT – payment_latency_ms {shown} (>2 s)", f"Payment latency {shown} (>2 s)"]


def test_the_unit_after_the_placeholder_is_absorbed_and_text_stays_literal() -> None:
    assert render_template("took {{ value }} ms, {{value}}ms, {{other}}", event("850")) == \
        "took 850 ms, 850 ms, {{other}}"


def test_long_parts_are_trimmed_least_important_first() -> None:
    long_message = "Payment latency {{value}} ms (>2 s); " + "the gateway of the licence renewal office " * 4
    source = "Database connection pool exhausted on db-primary-01"
    message = compose(event(message=long_message), source)
    assert len(message.text) <= SEGMENT
    assert message.headline == "[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)"
    assert message.source == source  # kept whole: the message was shortened instead
    assert message.body.endswith("…")
    huge_source = "Database connection pool exhausted " * 8
    message = compose(event(message=long_message), huge_source)
    assert len(message.text) <= SEGMENT and message.body == ""
    assert message.source and message.source.startswith("Database connection pool exhausted")


def test_resolved() -> None:
    message = compose(event(status="resolved"), "ignored")
    assert message.headline.startswith("[HMS-OPS] RESOLVED – payment_latency_ms no longer >2 s, after ")
    assert message.source is None and message.body == ""


def test_numbers_and_ids_are_normalised_for_counting() -> None:
    assert normalise("Payment #123 timed out") == normalise("Payment #124 timed out")
    assert normalise("req 3f2a9c1e-1b2c-4d5e-8f90-1234567890ab failed from 10.0.0.7:5432") == \
        "req <id> failed from <ip>"
    rows = [("Payment #1 timed out", 1), ("Payment #2 timed out", 1), ("Payment #3 timed out", 1),
            ("cache miss", 1)]
    assert most_frequent(rows) == "Payment #1 timed out"
    assert most_frequent([("a", 2), ("b", 1)]) is None  # too rare to stand out
    assert most_frequent([("pool exhausted", 5), ("disk slow", 4)]) is None  # no clear leader


def test_console_output_cannot_drive_the_terminal(tmp_path) -> None:
    from hms_otel.notify.providers import LocalPrinter
    from hms_otel.terminal import safe_text

    assert safe_text("ok\x1b[2J\x1b]0;pwned\x07 \x9b31m\tdone\n") == "ok\\x1b[2J\\x1b]0;pwned\\x07 \\x9b31m\tdone\n"
    said: list[str] = []
    printer = LocalPrinter(tmp_path / "outbox.txt", lambda text: said.append(safe_text(text)), "sms")
    printer.send("+15551234", Message("[HMS-OPS] ALERT", "Latency \x1b[31mred", None), event())
    assert "\x1b" not in said[0] and "\\x1b[31mred" in said[0]
    # compose() already drops controls, so no provider gets them either.
    assert compose(event(message="Latency {{value}} ms \x1b[31mred"), None).body == "Latency 2.9 s [31mred"


@pytest.mark.parametrize(("value", "unit", "text"), [
    (float("inf"), "ms", "infinite"), (float("-inf"), "{x}", "minus infinite"), (float("inf"), "", "infinite"),
    (1e308, "ms", "2.8e+301 h"), (1e308, "{x}", "1e+308 xes"), (1e308, "By", "1e+296 TB"), (-1e20, "", "-1e+20"),
])
def test_infinite_and_huge_values_stay_short(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


@pytest.mark.parametrize(("value", "shown"), [("1e308", "2.8e+301 h"), ("+Inf", "infinite")])
def test_an_extreme_value_keeps_the_metric_name_in_the_headline(value: str, shown: str) -> None:
    message = compose(event(value), None)
    assert message.headline == f"[HMS-OPS] ALERT – payment_latency_ms {shown} (>2 s)"
    assert len(message.text) <= SEGMENT


@pytest.mark.parametrize("starts_at", ["2999-01-01T00:00:00Z", "1970-01-01T00:00:01Z"])
def test_a_resolved_alert_with_an_impossible_start_says_no_duration(starts_at: str) -> None:
    resolved = AlertEvent(status="resolved", name="payment_latency_high", fingerprint="f1", starts_at=starts_at,
                          ends_at="", annotations=event().annotations)
    assert compose(resolved, None).headline == "[HMS-OPS] RESOLVED – payment_latency_ms no longer >2 s"
