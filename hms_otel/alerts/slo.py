"""Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, ch. 5).

For a 30-day period: page when 2 % of the error budget burns in 1 h (burn rate
14.4, confirmed over 5 m) or 5 % in 6 h (6, over 30 m); open a ticket when 10 %
burns in 1 d (3, over 2 h) or in 3 d (1, over 6 h). Other periods scale the
windows and keep the budget fractions, as sloth does, so the burn factor is
``budget_fraction * period / long_window``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hms_otel.alerts.model import Slo
from hms_otel.alerts.promql import format_number, selector
from hms_otel.alerts.syntax import format_duration, literal_template

if TYPE_CHECKING:
    from hms_otel.alerts.rules import RecordingRule
from hms_otel.registry import Kind

_THIRTY_DAYS_MS = 30 * 86_400_000
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class BurnWindow:
    severity: str  # "page" or "ticket"
    long_ms: int
    short_ms: int
    factor: float

    @property
    def long(self) -> str:
        return format_duration(self.long_ms)

    @property
    def short(self) -> str:
        return format_duration(self.short_ms)


#: (severity, long window at 30 d, budget fraction spent in it)
_WORKBOOK = (("page", 1 * _HOUR_MS, 0.02), ("page", 6 * _HOUR_MS, 0.05),
             ("ticket", 24 * _HOUR_MS, 0.10), ("ticket", 72 * _HOUR_MS, 0.10))


def burn_windows(period_ms: int) -> tuple[BurnWindow, ...]:
    """The four window pairs for ``period_ms``; for 30 d exactly the workbook's."""
    windows = []
    for severity, long_at_30d, budget in _WORKBOOK:
        # Whole seconds: Prometheus range selectors read them exactly.
        long_ms = max(1000, round(long_at_30d * period_ms / _THIRTY_DAYS_MS / 1000) * 1000)
        short_ms = max(1000, round(long_ms / 12 / 1000) * 1000)
        factor = round(budget * period_ms / long_ms, 6)
        windows.append(BurnWindow(severity, long_ms, short_ms, factor))
    return tuple(windows)


def shortest_period(window_ms: int) -> int:
    """The shortest whole-hour period whose shortest burn-rate window (5m at 30d) is ``window_ms`` or more."""
    share = min(w.short_ms for w in burn_windows(_THIRTY_DAYS_MS)) / _THIRTY_DAYS_MS
    return -(-round(window_ms / share) // _HOUR_MS) * _HOUR_MS


def max_burn(slo: Slo) -> float:
    """The highest burn rate ``slo`` can show: every event bad (error ratio 1) over the budget."""
    return 1 / round(1 - slo.objective, 12)  # the literal the rules divide by


def can_fire(slo: Slo, severity: str) -> bool:
    """Whether the ``severity`` ("page"/"ticket") alert of ``slo`` can fire at all. At a low objective
    the budget is so large that even a total outage burns it slower than the page's factor: at 50 %
    the burn is at most 2, never over 14.4 or 6."""
    return any(max_burn(slo) > w.factor for w in burn_windows(slo.period.ms) if w.severity == severity)


RECORD = "hms_slo:error_ratio:rate"


def error_ratio_expr(slo: Slo, window: str) -> str:
    """Share of bad events over ``window``, summed over every series of the SLO."""
    rng = f"[{window}]"
    if slo.latency_below is not None:
        base = slo.metric.prometheus_name
        le = f'le="{format_number(slo.latency_below)}"'
        good = f"sum(rate({selector(base + '_bucket', slo.selector, le)}{rng}))"
        total = f"sum(rate({selector(base + '_count', slo.selector)}{rng}))"
        return f"1 - ({good} / {total})"
    assert slo.errors is not None
    total_series = slo.metric.prometheus_series[-1] if slo.metric.kind is Kind.HISTOGRAM else slo.metric.prometheus_name
    bad = f"sum(rate({selector(slo.errors.prometheus_name, slo.selector)}{rng}))"
    total = f"sum(rate({selector(total_series, slo.selector)}{rng}))"
    return f"{bad} / {total}"


def recording_rules(slo: Slo) -> list[RecordingRule]:
    """One recording rule per distinct window; alerts read these."""
    rules: list[RecordingRule] = []
    seen: list[int] = []
    for window in burn_windows(slo.period.ms):
        for ms in (window.short_ms, window.long_ms):
            if ms not in seen:
                seen.append(ms)
    for ms in sorted(seen):
        text = format_duration(ms)
        rules.append({"record": RECORD + text, "expr": error_ratio_expr(slo, text),
                      "labels": {"hms_slo": literal_template(slo.id)}})
    return rules


def burn_expr(slo: Slo, severity: str) -> str:
    """Burn rate (how many times faster than allowed) when both windows of a pair exceed their factor."""
    budget = format_number(round(1 - slo.objective, 12))
    pairs = []
    for window in burn_windows(slo.period.ms):
        if window.severity != severity:
            continue
        factor = format_number(window.factor)
        long_ratio = f'{RECORD}{window.long}{{hms_slo="{slo.id}"}} / {budget}'
        short_ratio = f'{RECORD}{window.short}{{hms_slo="{slo.id}"}} / {budget}'
        pairs.append(f"({long_ratio} > {factor} and {short_ratio} > {factor})")
    return "\n or ".join(pairs)
