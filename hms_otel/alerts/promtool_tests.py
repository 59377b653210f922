"""Generated ``promtool test rules`` cases: for each alert, a series over the
threshold fires after the right time with the rendered message, and one on the
safe side stays silent.

The expected value is known before promtool runs, to the last bit: the rule
compares it exactly (``== 0.333333``) and the message prints it. So values are
chosen within what the measured value can show (a counter's increase is never
below 0) and the input series make promtool's arithmetic exact: constant
gauges, counters rising by steps that add up exactly, sampled at an interval
dividing the window so rate() needs no extrapolation (see :func:`_inputs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hms_otel.alerts.model import Alert, AlertFile, Slo
from hms_otel.alerts.promql import rate_factor, rate_increase, value_floor
from hms_otel.alerts.rules import (
    alert_labels,
    notifier_annotations,
    slo_id,
    slo_message,
    slo_notifier_annotations,
)
from hms_otel.alerts.slo import burn_windows, can_fire, max_burn
from hms_otel.alerts.syntax import format_duration, humanize, render_message
from hms_otel.errors import Problem
from hms_otel.notify import alert as notify
from hms_otel.registry import Kind


@dataclass
class TestPlan:
    """promtool test files (name -> YAML data) for one source file, and alerts left untested."""

    source: str
    files: dict[str, dict[str, object]] = field(default_factory=dict)
    skipped: list[Problem] = field(default_factory=list)


def _interval_ms(window_ms: int) -> int:
    """A sampling interval dividing the window into 8 steps (an increase split into 8 steps stays
    exact in binary floating point), else into at least 10."""
    choices: list[int] = [8, *range(10, 1001)]
    for steps in choices:
        if window_ms % steps == 0:
            return window_ms // steps
    return max(1, window_ms // 10)


#: Rule evaluations per case at most: a long ``for`` spreads them out, as each costs promtool a
#: rule evaluation (``for: 30d`` at the window's 30s took 1.5 min; ``1y`` over the 120 s limit).
_MAX_EVALUATIONS = 1000
#: Samples per input series at most (promtool reads a million in about a second).
_MAX_SAMPLES = 1_000_000
#: Below this, whole numbers and halves, quarters... add up exactly in binary floating point.
_EXACT_SUMS = 2**53


def _evaluation_interval(interval_ms: int, span_ms: int) -> int:
    """A multiple of the sampling interval with at most :data:`_MAX_EVALUATIONS` evaluations in ``span_ms``."""
    evaluations = -(-span_ms // interval_ms)
    return interval_ms * max(1, -(-evaluations // _MAX_EVALUATIONS))


def _one_sample_per_window(alert: Alert) -> bool:
    """A gauge's sum or quantile is exact only over a single sample: a sum of many copies of a number
    rounds, and so does quantile_over_time's interpolation between two of them."""
    condition = alert.condition
    return (condition is not None and alert.metric.kind not in (Kind.COUNTER, Kind.HISTOGRAM)
            and (condition.aggregation == "sum" or condition.quantile is not None))


def _sampling_interval(alert: Alert) -> int:
    window_ms = alert.condition.window.ms if alert.condition else alert.absent_for.ms  # type: ignore[union-attr]
    # Samples 2 windows apart: a window ending on one holds just that one, whether it includes its
    # start (Prometheus 2) or not (Prometheus 3).
    return 2 * window_ms if _one_sample_per_window(alert) else _interval_ms(window_ms)


def _power_of_two_above(value: float) -> float | None:
    """The least power of two greater than ``value`` (0 for a negative value); ``None`` past the largest."""
    if value < 0:
        return 0.0
    if value == 0:
        return 1.0
    try:
        return math.ldexp(1.0, math.frexp(value)[1])  # frexp's mantissa is below 1: 2**exponent > value
    except OverflowError:
        return None


def _above(threshold: float) -> list[float]:
    """Values over the threshold, the one the tests always used first, then a power of two."""
    return [value for value in (threshold + max(abs(threshold), 1.0), _power_of_two_above(threshold))
            if value is not None and math.isfinite(value) and value > threshold]


def _below(threshold: float) -> list[float]:
    if threshold > 0:
        candidates: tuple[float | None, ...] = (threshold / 2, 0.0)
    else:
        above = _power_of_two_above(-threshold)
        candidates = (threshold - max(abs(threshold), 1.0), None if above is None else -above)
    return [value for value in candidates if value is not None and math.isfinite(value) and value < threshold]


def _values(op: str, threshold: float, floor: float | None) -> tuple[list[float], list[float]]:
    """Candidates for (a value that fires, one that does not) for ``<value> op threshold``, plainest first,
    within what the measured value can show (a counter's rate is never below 0)."""

    def possible(values: list[float]) -> list[float]:
        return [value for value in values if floor is None or value >= floor]

    above, below, exactly = possible(_above(threshold)), possible(_below(threshold)), possible([threshold])
    return {
        ">": (above, below + exactly),
        ">=": (above + exactly, below),
        "<": (below, above + exactly),
        "<=": (below + exactly, above),
        "==": (exactly, above + below),
        "!=": (above + below, exactly),
    }[op]


def _candidates(alert: Alert) -> tuple[list[float], list[float]]:
    assert alert.condition is not None
    condition = alert.condition
    return _values(condition.op, condition.threshold, value_floor(alert.metric.kind, condition.aggregation))


def firing_value(alert: Alert) -> float:
    """A value that makes ``alert`` fire (1 for a no-data alert): the one the generated tests use."""
    if alert.condition is None:
        return 1.0
    firing, _safe = _candidates(alert)
    layout = _layout(alert)
    picked = _pick(alert, firing, layout.steps, layout.interval)
    if picked is not None:
        return picked[0]
    return firing[0] if firing else alert.condition.threshold


def slo_firing_value(slo: Slo) -> float:
    """The burn rate of an SLO whose every event is bad."""
    return max_burn(slo)


def _series(value_at_step0: float, increment: float, steps: int) -> str:
    return f"{_num(value_at_step0)}+{_num(increment)}x{steps}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _labels_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}" if inner else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sums_exact(step: float, count: int) -> bool:
    """Whether promtool's running sum ``0, step, 2*step, ...`` (``count`` steps) is exact."""
    if not math.isfinite(step * count):
        return False
    numerator = Fraction(step).numerator
    odd = numerator // (numerator & -numerator) if numerator else 0
    return abs(odd) * count < _EXACT_SUMS


def _counter(series: str, increase: float | None, steps: int, window_steps: int, blocks: bool
             ) -> dict[str, str] | None:
    """A counter whose increase over every window ending on a sample (after the first) is exactly
    ``increase``; ``None`` if it cannot be written (or only as blocks, when ``blocks`` is false)."""
    if increase is None or increase < 0 or not math.isfinite(2 * increase):
        return None
    step = increase / window_steps
    if step * window_steps == increase and _sums_exact(step, steps):
        return {"series": series, "values": _series(0, step, steps)}
    if not blocks:
        return None
    # Any other number: `increase` for a window's worth of samples, then twice it, and again, so each
    # window holds one rise by `increase` or one reset (which rate() counts as the value after it,
    # `increase`): twice a number and the difference of the two are exact. Prometheus 2 ranges hold
    # window_steps + 1 samples, the samples at both ends; on Prometheus 3 this would not hold.
    block = f"{_num(increase)}+0x{window_steps - 1} {_num(2 * increase)}+0x{window_steps - 1}"
    return {"series": series, "values": " ".join([block] * -(-(steps + 1) // (2 * window_steps)))}


def _inputs(alert: Alert, value: float, steps: int, interval_ms: int, *, blocks: bool = True
            ) -> list[dict[str, str]] | None:
    """Input series on which promtool computes the alert's measured value as exactly ``value`` (so
    ``== value`` holds and the message shows it to the last digit); ``None`` if there are none."""
    assert alert.condition is not None
    condition = alert.condition
    metric = alert.metric
    labels = dict(alert.selector)
    base = metric.prometheus_name
    window_ms = condition.window.ms
    window_steps = window_ms // interval_ms
    agg = condition.aggregation
    if not math.isfinite(value):
        return None

    def counter(name: str, increase: float | None) -> dict[str, str] | None:
        return _counter(_labels_text(name, labels), increase, steps, window_steps, blocks)

    def constant(name: str) -> list[dict[str, str]]:
        return [{"series": _labels_text(name, labels), "values": _series(value, 0, steps)}]

    if metric.kind is Kind.HISTOGRAM:
        if value < 0:
            return None
        if agg == "avg":
            rates = _average_rates(value, window_ms)
            count = counter(base + "_count", rate_increase(rates[1], window_ms)) if rates else None
            total = counter(base + "_sum", rate_increase(rates[0], window_ms)) if rates else None
            return [total, count] if total and count else None
        if condition.quantile is not None:
            # Every observation above the bucket `le=value`: histogram_quantile answers with the
            # highest finite bound exactly, not with an interpolation that rounds.
            return [{"series": _labels_text(base + "_bucket", {**labels, "le": _num(value)}),
                     "values": _series(0, 0, steps)},
                    {"series": _labels_text(base + "_bucket", {**labels, "le": "+Inf"}),
                     "values": _series(0, window_steps, steps)}]
        name = base + ("_sum" if agg == "sum" else "_count")
        series = counter(name, rate_increase(value, window_ms) if agg == "rate" else value)
        return [series] if series else None
    if metric.kind is Kind.COUNTER:
        if agg == "last":
            return constant(base) if value >= 0 else None
        series = counter(base, rate_increase(value, window_ms) if agg == "rate" else value)
        return [series] if series else None
    if agg == "count":
        return None  # the sample count is fixed by the interval, not by the values
    return constant(base)  # one sample per window for sum and quantiles (see _one_sample_per_window)


def _average_rates(value: float, window_ms: int) -> tuple[float, float] | None:
    """Rates of a histogram's sum and count that Prometheus can compute and whose quotient is exactly
    ``value``; ``None`` if the few tried have none."""
    factor = rate_factor(window_ms)
    for count_increase in range(1, 65):
        count_rate = count_increase * factor
        if not count_rate:
            return None
        total_rate = value * count_rate
        for _ in range(4):
            if total_rate / count_rate > value:
                total_rate = math.nextafter(total_rate, -math.inf)
            elif total_rate / count_rate < value:
                total_rate = math.nextafter(total_rate, math.inf)
            else:
                break
        if total_rate / count_rate == value and rate_increase(total_rate, window_ms) is not None:
            return total_rate, count_rate
    return None


def _pick(alert: Alert, candidates: list[float], steps: int, interval_ms: int
          ) -> tuple[float, list[dict[str, str]]] | None:
    """The first candidate with input series: plain rising ones if any candidate has them, else blocks."""
    for blocks in (False, True):
        for value in candidates:
            inputs = _inputs(alert, value, steps, interval_ms, blocks=blocks)
            if inputs is not None:
                return value, inputs
    return None


def _expected(alert_id: str, severity: str, layer: str, labels: dict[str, str], message: str,
              summary: str | None, runbook: str | None, source: str, value: float,
              notifier: dict[str, str]) -> dict[str, object]:
    annotations = {"message": render_message(message, value)}
    if summary:
        annotations["summary"] = render_message(summary, value)
    if runbook:
        annotations["runbook_url"] = runbook
    annotations["hms_source"] = source
    # The notifier's data: literal text as written, the value as printf "%.6g" renders it.
    annotations.update(notifier)
    annotations[notify.MESSAGE] = message
    annotations[notify.VALUE] = f"{value:.6g}"
    # Prometheus drops empty label values, so `queue=""` never shows on the alert.
    present = {name: value for name, value in labels.items() if value}
    return {"exp_labels": {**present, **alert_labels(alert_id, severity, layer)}, "exp_annotations": annotations}


@dataclass(frozen=True)
class _Layout:
    """When samples are taken and rules evaluated for one alert's cases."""

    interval: int
    evaluation: int
    #: When the alert must fire: the window filled and `for` passed, two evaluations of margin.
    fire_at: int

    @property
    def steps(self) -> int:
        return self.fire_at // self.interval


_PRESENT = 5  # samples before a no-data alert's series stops


def _layout(alert: Alert) -> _Layout:
    for_ms = alert.for_.ms if alert.for_ else 0
    window_ms = alert.condition.window.ms if alert.condition else alert.absent_for.ms  # type: ignore[union-attr]
    interval = _sampling_interval(alert)
    span = window_ms + for_ms + (_PRESENT * interval if alert.condition is None else 0)
    evaluation = _evaluation_interval(interval, span)
    return _Layout(interval, evaluation, (-(-span // evaluation) + 2) * evaluation)


def alert_tests(alert: Alert) -> tuple[dict[str, object] | None, str | None]:
    """One promtool test file for ``alert`` or a reason it cannot be generated."""
    for_ms = alert.for_.ms if alert.for_ else 0
    window_ms = alert.condition.window.ms if alert.condition else alert.absent_for.ms  # type: ignore[union-attr]
    layout = _layout(alert)
    interval, evaluation, fire_at, fire_steps = layout.interval, layout.evaluation, layout.fire_at, layout.steps
    if fire_steps > _MAX_SAMPLES:
        return None, (f"no promtool test generated: for {alert.for_.text if alert.for_ else '0s'} spans "
                      f"{fire_steps} samples of the {format_duration(window_ms)} window; the test would take "
                      "promtool minutes")
    expected: dict[str, Any] = dict(
        alert_id=alert.id, severity=alert.severity, layer=alert.layer, labels=dict(alert.selector),
        message=alert.message, summary=alert.summary, runbook=alert.runbook, source=str(alert.source),
        notifier=notifier_annotations(alert),
    )
    cases: list[dict[str, object]] = []
    if alert.condition is None:
        series = _labels_text(alert.metric.prometheus_series[-1], dict(alert.selector))
        cases.append(_case(interval, [{"series": series, "values": f"1+0x{_PRESENT} _x{fire_steps - _PRESENT}"}],
                           fire_at, [_expected(value=1, **expected)], alert.id))
        cases.append(_case(interval, [{"series": series, "values": f"1+0x{fire_steps}"}], fire_at, [], alert.id))
    else:
        condition = alert.condition
        firing, safe = _candidates(alert)
        hot = _pick(alert, firing, fire_steps, interval)
        if hot is None:
            shown_value = (f"{condition.aggregation} {_num(firing[0])}" if firing else
                           f"{condition.aggregation} {condition.op} {_num(condition.threshold)}")
            return None, (f"no promtool test generated: {alert.metric.name} cannot be made to show "
                          f"{shown_value} with synthetic data")
        violating, hot_inputs = hot
        evaluations = [(fire_at, [_expected(value=violating, **expected)])]
        if for_ms >= 4 * evaluation:
            evaluations.append((for_ms // 2 // evaluation * evaluation, []))  # still pending: for has not passed
        cases.append(_case_many(interval, hot_inputs, evaluations, alert.id))
        cold = _pick(alert, safe, fire_steps, interval)
        if cold is not None:
            cases.append(_case(interval, cold[1], fire_at, [], alert.id))
    return _test_file(evaluation, cases), None


def _case(interval_ms: int, inputs: list[dict[str, str]], at_ms: int, alerts: list[dict[str, object]],
          name: str) -> dict[str, object]:
    return _case_many(interval_ms, inputs, [(at_ms, alerts)], name)


def _case_many(interval_ms: int, inputs: list[dict[str, str]], evaluations: list[tuple[int, list[dict[str, object]]]],
               name: str) -> dict[str, object]:
    return {
        "interval": format_duration(interval_ms),
        "input_series": inputs,
        "alert_rule_test": [
            {"eval_time": format_duration(at_ms), "alertname": name, "exp_alerts": alerts}
            for at_ms, alerts in evaluations
        ],
    }


def _test_file(interval_ms: int, cases: list[dict[str, object]]) -> dict[str, object]:
    return {"rule_files": ["rules.yml"], "evaluation_interval": format_duration(interval_ms), "tests": cases}


def slo_tests(slo: Slo) -> dict[str, object]:
    windows = burn_windows(slo.period.ms)
    interval = max(1000, min(w.short_ms for w in windows) // 5 // 1000 * 1000)
    steps = 10
    labels = dict(slo.selector)
    burn = max_burn(slo)  # every event bad
    if slo.latency_below is not None:
        base = slo.metric.prometheus_name
        le = {**labels, "le": _num(slo.latency_below)}

        def inputs(bad: bool) -> list[dict[str, str]]:
            return [{"series": _labels_text(base + "_bucket", le), "values": _series(0, 0 if bad else 10, steps)},
                    {"series": _labels_text(base + "_count", labels), "values": _series(0, 10, steps)}]
    else:
        assert slo.errors is not None
        total = slo.metric.prometheus_series[-1] if slo.metric.kind is Kind.HISTOGRAM else slo.metric.prometheus_name

        def inputs(bad: bool) -> list[dict[str, str]]:
            return [{"series": _labels_text(slo.errors.prometheus_name, labels),  # type: ignore[union-attr]
                     "values": _series(0, 10 if bad else 0, steps)},
                    {"series": _labels_text(total, labels), "values": _series(0, 10, steps)}]

    cases = []
    for severity, level in (("page", "critical"), ("ticket", "warning")):
        alert_id = slo_id(slo, severity)
        fires = can_fire(slo, severity)  # when not, check warns and drill fails it; the rule stays silent
        expected = _expected(alert_id, level, slo.layer, {"hms_slo": slo.id}, slo_message(slo), slo.summary,
                             slo.runbook, str(slo.source), burn, slo_notifier_annotations(slo))
        cases.append(_case(interval, inputs(True), steps * interval, [expected] if fires else [], alert_id))
        cases.append(_case(interval, inputs(False), steps * interval, [], alert_id))
    return _test_file(interval, cases)


def plan(source: AlertFile) -> TestPlan:
    result = TestPlan(source.path)
    for alert in source.alerts:
        data, reason = alert_tests(alert)
        if data is None:
            result.skipped.append(Problem(alert.source, reason or "no test generated", "warning"))
        else:
            result.files[f"test_{alert.id}.yml"] = data
    for slo in source.slos:
        result.files[f"test_{slo.id}_slo.yml"] = slo_tests(slo)
    return result


__all__ = ["TestPlan", "alert_tests", "firing_value", "humanize", "plan", "slo_firing_value", "slo_tests"]
