"""Generated ``promtool test rules`` cases: for each alert, a series over the
threshold fires after the right time with the rendered message, and one on the
safe side stays silent.

Input series have constant slopes sampled at an interval dividing the window,
so Prometheus' rate extrapolation is exact and the expected value is known
before promtool runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hms_otel.alerts.model import Alert, AlertFile, Slo
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
    """A sampling interval that divides the window into at least 10 steps."""
    for steps in range(10, 1001):
        if window_ms % steps == 0:
            return window_ms // steps
    return max(1, window_ms // 10)


#: Rule evaluations per case at most: a long ``for`` spreads them out, as each costs promtool a
#: rule evaluation (``for: 30d`` at the window's 30s took 1.5 min; ``1y`` over the 120 s limit).
_MAX_EVALUATIONS = 1000
#: Samples per input series at most (promtool reads a million in about a second).
_MAX_SAMPLES = 1_000_000


def _evaluation_interval(interval_ms: int, span_ms: int) -> int:
    """A multiple of the sampling interval with at most :data:`_MAX_EVALUATIONS` evaluations in ``span_ms``."""
    evaluations = -(-span_ms // interval_ms)
    return interval_ms * max(1, -(-evaluations // _MAX_EVALUATIONS))


def _values(op: str, threshold: float) -> tuple[float, float]:
    """(violating, safe) values for ``<value> op threshold``."""
    step = max(abs(threshold), 1.0)
    above, below = threshold + step, (threshold / 2 if threshold > 0 else threshold - 1)
    if op in (">", ">="):
        return above, below
    if op in ("<", "<="):
        return below, above
    if op == "==":
        return threshold, above
    return above, threshold  # !=


def firing_value(alert: Alert) -> float:
    """A value that makes ``alert`` fire (1 for a no-data alert): the one the generated tests use."""
    if alert.condition is None:
        return 1.0
    return _values(alert.condition.op, alert.condition.threshold)[0]


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


def _inputs(alert: Alert, value: float, steps: int, interval_ms: int) -> list[dict[str, str]] | None:
    """Input series making the alert's measured value exactly ``value``; ``None`` if impossible."""
    assert alert.condition is not None
    condition = alert.condition
    metric = alert.metric
    labels = dict(alert.selector)
    base = metric.prometheus_name
    window_steps = condition.window.ms // interval_ms
    agg = condition.aggregation
    per_second = value * interval_ms / 1000
    per_window_step = value / window_steps
    if metric.kind is Kind.HISTOGRAM:
        if value < 0:
            return None
        if agg == "avg":
            return [{"series": _labels_text(base + "_sum", labels), "values": _series(0, value * 10, steps)},
                    {"series": _labels_text(base + "_count", labels), "values": _series(0, 10, steps)}]
        if condition.quantile is not None:
            if value <= 0:
                return None
            upper = value / condition.quantile  # the first bucket interpolates from 0 to its bound
            return [{"series": _labels_text(base + "_bucket", {**labels, "le": _num(upper)}),
                     "values": _series(0, 10, steps)},
                    {"series": _labels_text(base + "_bucket", {**labels, "le": "+Inf"}),
                     "values": _series(0, 10, steps)}]
        name = base + ("_sum" if agg == "sum" else "_count")
        increment = per_second if agg == "rate" else per_window_step
        return [{"series": _labels_text(name, labels), "values": _series(0, increment, steps)}]
    if metric.kind is Kind.COUNTER:
        if agg == "last":
            return [{"series": _labels_text(base, labels), "values": _series(value, 0, steps)}] if value >= 0 else None
        if value < 0:
            return None
        increment = per_second if agg == "rate" else per_window_step
        return [{"series": _labels_text(base, labels), "values": _series(0, increment, steps)}]
    if agg == "count":
        return None  # the sample count is fixed by the interval, not by the values
    sample = value / (window_steps + 1) if agg == "sum" else value  # 2.42 ranges include both ends
    return [{"series": _labels_text(base, labels), "values": _series(sample, 0, steps)}]


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


def alert_tests(alert: Alert) -> tuple[dict[str, object] | None, str | None]:
    """One promtool test file for ``alert`` or a reason it cannot be generated."""
    for_ms = alert.for_.ms if alert.for_ else 0
    window_ms = alert.condition.window.ms if alert.condition else alert.absent_for.ms  # type: ignore[union-attr]
    interval = _interval_ms(window_ms)
    present = 5  # samples before a no-data alert's series stops
    span = window_ms + for_ms + (present * interval if alert.condition is None else 0)
    evaluation = _evaluation_interval(interval, span)
    # Firing is due by the first evaluation after the window filled and `for` passed; two more for margin.
    fire_at = (-(-span // evaluation) + 2) * evaluation
    fire_steps = fire_at // interval
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
        cases.append(_case(interval, [{"series": series, "values": f"1+0x{present} _x{fire_steps - present}"}],
                           fire_at, [_expected(value=1, **expected)], alert.id))
        cases.append(_case(interval, [{"series": series, "values": f"1+0x{fire_steps}"}], fire_at, [], alert.id))
    else:
        violating, safe = _values(alert.condition.op, alert.condition.threshold)
        hot = _inputs(alert, violating, fire_steps, interval)
        if hot is None:
            return None, (f"no promtool test generated: {alert.metric.name} cannot be made to show "
                          f"{alert.condition.aggregation} {_num(violating)} with synthetic data")
        evaluations = [(fire_at, [_expected(value=violating, **expected)])]
        if for_ms >= 4 * evaluation:
            evaluations.append((for_ms // 2 // evaluation * evaluation, []))  # still pending: for has not passed
        cases.append(_case_many(interval, hot, evaluations, alert.id))
        cold = _inputs(alert, safe, fire_steps, interval)
        if cold is not None:
            cases.append(_case(interval, cold, fire_at, [], alert.id))
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
