"""PromQL for an alert condition, chosen from the metric's kind.

Series names are the registry names exactly (the HMS collector exports
without unit or ``_total`` suffixes); histograms add ``_bucket``/``_sum``/
``_count``.
"""

from __future__ import annotations

import json
import math

from hms_otel.alerts.model import Alert, Condition
from hms_otel.alerts.syntax import format_duration
from hms_otel.registry import Kind, MetricDefinition

_COUNTER_ONLY = {"rate", "increase"}
_GAUGE_FUNCTIONS = {
    "avg": "avg_over_time",
    "min": "min_over_time",
    "max": "max_over_time",
    "sum": "sum_over_time",
    "count": "count_over_time",
    "last": "last_over_time",
}


def aggregation_problem(kind: Kind, aggregation: str, name: str) -> str | None:
    """Why ``aggregation`` makes no sense for a ``kind`` metric, or ``None``."""
    if kind is Kind.HISTOGRAM:
        if aggregation in ("min", "max", "last"):
            return (
                f"{name} is a histogram; Prometheus keeps no {aggregation} for it. "
                "Use avg, p50, p90, p95 or p99 (or count/rate for how many were observed)"
            )
        return None
    if kind is Kind.COUNTER:
        if aggregation in ("rate", "increase", "last"):
            return None
        hint = " (a spike in a counter is increase_over_5m > N)" if aggregation in ("sum", "max") else ""
        return f"{name} is a counter; use increase, rate or last, not {aggregation}{hint}"
    if aggregation in _COUNTER_ONLY:
        return (
            f"{name} is {'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value} (a gauge in Prometheus) "
            "and can go down; "
            f"{aggregation} needs a counter. Use avg, min, max, last or a quantile"
        )
    return None


def value_floor(kind: Kind, aggregation: str) -> float | None:
    """The least value ``aggregation`` of a ``kind`` metric can show, or ``None`` (no bound).

    Counters only go up and their rate/increase corrects resets, so every counter value is >= 0;
    OpenTelemetry histograms record non-negative values (durations, sizes) into buckets from 0, so
    their averages, quantiles, rates and counts are >= 0 too. A gauge's count is the number of its
    samples in the window: at least 1, since a window with none gives no result at all.
    """
    if kind in (Kind.COUNTER, Kind.HISTOGRAM):
        return 0.0
    if aggregation == "count":
        return 1.0
    return None


def never_true_problem(kind: Kind, condition: Condition, name: str) -> str | None:
    """Why ``condition`` can hold for no data of a ``kind`` metric, or ``None``.

    An error, not a warning: such an alert never fires, yet its generated test stays silent as
    expected and passes, so nothing else would tell.
    """
    threshold = condition.threshold
    if (condition.op == "==" and condition.aggregation == "rate" and kind in (Kind.COUNTER, Kind.HISTOGRAM)
            and threshold >= 0 and rate_increase(threshold, condition.window.ms) is None):
        seconds = format_number(range_seconds(condition.window.ms))
        return (f"this alert can never fire: Prometheus computes rate_over_{condition.window.text} as the "
                f"increase times 1/{seconds} s, and no increase gives exactly {format_number(threshold)}; "
                "compare with >= or <= instead")
    floor = value_floor(kind, condition.aggregation)
    if floor is None:
        return None
    never = threshold <= floor if condition.op == "<" else threshold < floor if condition.op in ("<=", "==") else False
    if not never:
        return None
    floor_text = format_number(floor)
    hint = " (for no data at all use absent_for, e.g. absent_for: 5m)" if floor > 0 else " (for none at all write == 0)"
    return (f"this alert can never fire: {condition.aggregation} of {name} is never below {floor_text}, "
            f"so '{condition.op} {format_number(threshold)}' never holds{hint}")


def always_true_problem(kind: Kind, condition: Condition, name: str) -> str | None:
    """Why ``condition`` holds whatever happens, or ``None``: a count is never below 0 and no data counts
    as 0 events (:func:`no_data_fires`), so ``increase_over_5m >= 0`` would page all day, with or without data.
    """
    if not counts_events(kind, condition.aggregation):
        return None
    threshold, op = condition.threshold, condition.op
    if not ((op == ">=" and threshold <= 0) or (op in (">", "!=") and threshold < 0)):
        return None
    return (f"this alert always fires: {condition.aggregation} of {name} is never below 0, and no data "
            f"counts as 0 events, so '{op} {format_number(threshold)}' always holds; "
            "for any event at all write > 0")


def range_seconds(window_ms: int) -> float:
    """The window in seconds as Prometheus has it: Go's ``time.Duration.Seconds()``, to the last bit."""
    seconds, rest = divmod(window_ms, 1000)
    return float(seconds) + float(rest * 1_000_000) / 1e9


def rate_factor(window_ms: int) -> float:
    """What Prometheus (2.40 and later) multiplies an increase by for its ``rate()`` over the window
    (when no extrapolation is needed): ``1 / seconds``, rounded once."""
    return 1.0 / range_seconds(window_ms)


def rate_increase(rate: float, window_ms: int) -> float | None:
    """The increase over the window whose ``rate()`` Prometheus computes as exactly ``rate``, or ``None``.

    Prometheus (2.40 and later) multiplies the increase by ``1 / seconds`` of the window, and not
    every number is such a product: no increase over 5m gives exactly 2000 or 0.3. The product grows
    with the increase, so the numbers next to ``rate / factor`` are the only candidates.
    """
    factor = rate_factor(window_ms)
    guess = rate / factor
    if not math.isfinite(guess):
        return None
    for _ in range(8):
        if guess * factor > rate:
            guess = math.nextafter(guess, -math.inf)
        elif guess * factor < rate:
            guess = math.nextafter(guess, math.inf)
        else:
            return guess
    return None


def selector(series: str, matchers: tuple[tuple[str, str], ...], extra: str = "") -> str:
    """``series{a="b",...}``; values are JSON-quoted so no text can break out of the string."""
    parts = [f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in matchers]
    if extra:
        parts.append(extra)
    return f"{series}{{{','.join(parts)}}}" if parts else series


#: What tells a counter born inside the window from one Prometheus merely has no history of: the job
#: was sending telemetry (the collector's ``target_info``) a window ago.
_SENDING = "target_info"


def _counting_births(measured: str, born: str, probe: str, window: str) -> str:
    """``measured`` (over counters), with ``born`` instead for the series that appeared within the window.

    An OpenTelemetry counter reaches Prometheus only at its first export, already at the count since the
    process started; increase() and rate() see nothing before that first sample. A rare event (a flagged
    payout, a worker's failed jobs before it crashes) counted once in a new series was never alerted on.
    A series with no sample a window ago (``probe offset``) started from 0 within it, so its highest
    value is the whole increase (max_over_time, unlike last_over_time, drops the name ``or`` must not
    see). Only for a job that was sending telemetry a window ago: after a Prometheus outage or on a
    fresh Prometheus every series looks new, and a lifetime total is no increase.
    """
    sending = f"group by (job) ({_SENDING} offset {window})"
    return f"({born} unless {probe} offset {window} and on (job) {sending}) or {measured}"


def value_expr(metric: MetricDefinition, condition: Condition, matchers: tuple[tuple[str, str], ...]) -> str:
    """The measured value (left side of the comparison)."""
    base = metric.prometheus_name
    span = format_duration(condition.window.ms)
    window = f"[{span}]"
    seconds = format_number(range_seconds(condition.window.ms))
    agg = condition.aggregation
    if metric.kind is Kind.HISTOGRAM:
        count = selector(f"{base}_count", matchers)
        total = selector(f"{base}_sum", matchers)

        def births(measured: str, born: str) -> str:
            return _counting_births(measured, born, count, span)

        if agg == "avg":
            return births(f"rate({total}{window}) / rate({count}{window})",
                          f"max_over_time({total}{window}) / max_over_time({count}{window})")
        if condition.quantile is not None:
            bucket = selector(f"{base}_bucket", matchers) + window
            return births(f"histogram_quantile({condition.quantile:g}, rate({bucket}))",
                          f"histogram_quantile({condition.quantile:g}, max_over_time({bucket}))")
        if agg == "rate":
            return births(f"rate({count}{window})", f"max_over_time({count}{window}) / {seconds}")
        if agg in ("count", "increase"):
            return births(f"increase({count}{window})", f"max_over_time({count}{window})")
        if agg == "sum":
            return births(f"increase({total}{window})", f"max_over_time({total}{window})")
        raise ValueError(aggregation_problem(metric.kind, agg, metric.name))
    plain = selector(base, matchers)
    series = plain + window
    if metric.kind is Kind.COUNTER:
        if agg == "rate":
            return _counting_births(f"rate({series})", f"max_over_time({series}) / {seconds}", plain, span)
        if agg == "increase":
            return _counting_births(f"increase({series})", f"max_over_time({series})", plain, span)
        if agg == "last":
            return f"last_over_time({series})"
        raise ValueError(aggregation_problem(metric.kind, agg, metric.name))
    if condition.quantile is not None:
        return f"quantile_over_time({condition.quantile:g}, {series})"
    if agg in _GAUGE_FUNCTIONS:
        return f"{_GAUGE_FUNCTIONS[agg]}({series})"
    raise ValueError(aggregation_problem(metric.kind, agg, metric.name))


def alert_expr(alert: Alert) -> str:
    """The full rule expression: the value compared with the threshold, or the no-data test."""
    if alert.condition is None:
        assert alert.absent_for is not None
        series = alert.metric.prometheus_series[-1]  # _count for histograms: present whenever data is
        return f"absent_over_time({selector(series, alert.selector)}[{format_duration(alert.absent_for.ms)}])"
    condition = alert.condition
    value = value_expr(alert.metric, condition, alert.selector)
    if no_data_fires(alert):
        # No series at all is no events: a service that stopped (or whose calls all hang) has none left in the
        # window, and `rate_over_5m < 1` then went silent instead of firing. `on ()` adds the 0 only when no
        # series is left, so a running service keeps its own value and labels.
        value = f"{value} or on () {_zero(alert.selector)}"
    if " or " in value:  # a comparison binds tighter than `or`: it must take the whole value
        value = f"({value})"
    return f"{value} {condition.op} {format_number(condition.threshold)}"


def _zero(matchers: tuple[tuple[str, str], ...]) -> str:
    """``vector(0)`` with the alert's own labels (``job="refunds"``), so the alert still names its service
    (the notifier looks its probable source up by it). ``$`` is a group reference in a replacement."""
    zero = "vector(0)"
    for name, value in matchers:
        replacement = json.dumps(value.replace("$", "$$"), ensure_ascii=False)
        zero = f'label_replace({zero}, {json.dumps(name)}, {replacement}, "", "")'
    return zero


def no_data_fires(alert: Alert) -> bool:
    """Whether ``alert`` counts events and its comparison holds for 0 (``rate_over_1m < 0.5``): then no series
    at all is 0 events, and the rule fires on it."""
    condition = alert.condition
    return (condition is not None and counts_events(alert.metric.kind, condition.aggregation)
            and _holds(0.0, condition.op, condition.threshold))


def counts_events(kind: Kind, aggregation: str) -> bool:
    """Whether ``aggregation`` of a ``kind`` metric counts events (or adds them up), so that no data means 0."""
    if kind is Kind.COUNTER:
        return aggregation in ("rate", "increase")
    return kind is Kind.HISTOGRAM and aggregation in ("rate", "increase", "count", "sum")


def _holds(value: float, op: str, threshold: float) -> bool:
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold, "<=": value <= threshold,
            "==": value == threshold, "!=": value != threshold}[op]


def format_number(value: float) -> str:
    """``2000`` not ``2000.0``; PromQL reads both, people prefer the first."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
