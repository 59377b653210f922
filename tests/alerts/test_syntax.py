"""The small grammars: durations, when, actions, messages, humanize."""

from __future__ import annotations

import math

import pytest

from hms_otel.alerts.syntax import (
    VALUE_TEMPLATE,
    SyntaxProblem,
    format_duration,
    humanize,
    literal_template,
    message_template,
    message_value,
    parse_action,
    parse_duration,
    parse_when,
    render_message,
)


@pytest.mark.parametrize("text,ms", [("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("1d", 86_400_000),
                                     ("500ms", 500), ("1w", 604_800_000), ("2h0m5s", 7_205_000)])
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text).ms == ms


@pytest.mark.parametrize("text", ["", "30", "5 m", "1.5h", "m", "30s5m", "-5m", "0s", "2y", "99999999999999999999d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(SyntaxProblem):
        parse_duration(text)


def test_zero_duration_only_where_allowed() -> None:
    assert parse_duration("0s", allow_zero=True).ms == 0


@pytest.mark.parametrize("ms,text", [(30_000, "30s"), (5_400_000, "1h30m"), (259_200_000, "3d"), (1500, "1s500ms"),
                                     (0, "0s")])
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration(ms) == text


def test_when() -> None:
    condition = parse_when("avg_over_30s > 2000")
    assert (condition.aggregation, condition.window.ms, condition.op, condition.threshold) == ("avg", 30_000, ">", 2000)
    assert parse_when("p99_over_5m>=1.5").quantile == 0.99
    assert parse_when("  increase_over_1h != 1_000 ").threshold == 1000
    # -0 is zero: kept negative it printed as "-0" in messages where Prometheus prints 0.
    assert math.copysign(1, parse_when("sum_over_7s <= -0.0").threshold) == 1


@pytest.mark.parametrize("text,offset,fragment", [
    ("mean_over_5m > 1", 0, "unknown aggregation"),
    ("avg_over_5q > 1", 9, "bad duration"),
    ("avg_over_5m = 1", 12, "unknown comparison"),
    ("avg_over_5m > lots", 14, "not a number"),
    ("avg_over_5m > inf", 14, "finite"),
    ("avg > 1", 0, "cannot read when"),
])
def test_when_errors_point_at_the_part(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(SyntaxProblem) as raised:
        parse_when(text)
    assert raised.value.offset == offset
    assert fragment in raised.value.message


@pytest.mark.parametrize("text,receiver", [
    ("sms:+15551234", "sms:+15551234"),
    ("slack:#payments", "slack:#payments"),
    ("teams:a2a-ops", "teams:a2a-ops"),
    ("email:oncall@example.gov", "email:oncall@example.gov"),
    ("webhook:https://hooks.example.gov/hms?x=1", "webhook:https://hooks.example.gov/hms?x=1"),
    ("pagerduty:payments-oncall", "pagerduty:payments-oncall"),
])
def test_actions(text: str, receiver: str) -> None:
    assert parse_action(text).receiver == receiver


@pytest.mark.parametrize("text", ["sms", "fax:+15551234", "sms:+0123", "slack:payments", "teams:https://x.example/y",
                                  "email:nobody", "webhook:ftp://x.example", "webhook:https://u:p@x.example/",
                                  "pagerduty:", "pagerduty:key with spaces"])
def test_bad_actions(text: str) -> None:
    with pytest.raises(SyntaxProblem):
        parse_action(text)


def test_value_placeholder_becomes_the_value_and_the_rest_is_literal() -> None:
    assert message_template("Payment latency {{value}} ms (>2 s)") == f"Payment latency {VALUE_TEMPLATE} ms (>2 s)"
    assert message_template("{{ value }}") == VALUE_TEMPLATE
    assert literal_template("a {{ .Labels }} b }}") == 'a {{ "{{" }} .Labels {{ "}}" }} b {{ "}}" }}'
    assert message_template("{{{{value}}}}") == '{{ "{{" }}' + VALUE_TEMPLATE + '{{ "}}" }}'
    # A lone '{' before an action would make '{{{', which Go cannot parse: it is printed by an action of its own.
    assert message_template("cost {{{value}}} jobs") == 'cost {{ "{" }}' + VALUE_TEMPLATE + '} jobs'
    assert literal_template("{{{}}") == '{{ "{{" }}{{ "{" }}{{ "}}" }}'


def test_render_message() -> None:
    assert render_message("Payment latency {{value}} ms (>2 s)", 11_000) == "Payment latency 11000 ms (>2 s)"
    assert render_message("{{ .Labels }} {{value}}", 0.5) == "{{ .Labels }} 0.5"


@pytest.mark.parametrize("value,text", [
    # humanize made these "550m (below 0.6)" and "2k ms (>2 s)" (promtool 2.42 renders what message_value says)
    (0.55, "0.55"), (2000.4, "2000.4"), (2.0833333333333335, "2.08333"), (1e-5, "1e-05"), (-5, "-5"),
    (999_999.9, "1e+06"), (2_500_000, "2.5M"), (-3e7, "-30M"), (1e20, "100E"), (float("nan"), "NaN"),
    (float("inf"), "+Inf"), (float("-inf"), "-Inf")])
def test_a_message_shows_the_value_in_full_below_a_million(value: float, text: str) -> None:
    assert message_value(value) == text


@pytest.mark.parametrize("value,text", [(0, "0"), (1, "1"), (999, "999"), (2534.2, "2.534k"), (11_000, "11k"),
                                        (1_234_567, "1.235M"), (0.25, "250m"), (0.000_002, "2u"), (-4000, "-4k"),
                                        (float("nan"), "NaN"), (float("inf"), "+Inf")])
def test_humanize_matches_prometheus(value: float, text: str) -> None:
    assert humanize(value) == text
