"""What an alert file means, once parsed: plain frozen dataclasses.

The spec step (``spec.py``) builds these from YAML; the generators
(``promql.py``, ``rules.py``, ``alertmanager.py``, ``promtool_tests.py``) only
read them, so each step can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hms_otel.errors import Location, Problem
from hms_otel.registry import MetricDefinition


@dataclass(frozen=True)
class Action:
    """Where a firing alert goes, e.g. ``sms:+15551234``."""

    scheme: str
    target: str
    location: Location = field(compare=False, default=Location("?"))

    @property
    def receiver(self) -> str:
        """The Alertmanager receiver name; one per distinct action."""
        return f"{self.scheme}:{self.target}"


@dataclass(frozen=True)
class Duration:
    """A Prometheus duration, kept as written and in milliseconds."""

    text: str
    ms: int

    @property
    def seconds(self) -> float:
        return self.ms / 1000


@dataclass(frozen=True)
class Condition:
    """``<aggregation>_over_<window> <op> <threshold>``."""

    aggregation: str
    window: Duration
    op: str
    threshold: float

    @property
    def quantile(self) -> float | None:
        """0.99 for ``p99``; ``None`` for the other aggregations."""
        if self.aggregation.startswith("p"):
            return int(self.aggregation[1:]) / 100
        return None


@dataclass(frozen=True)
class Alert:
    id: str
    source: Location
    metric: MetricDefinition
    #: ``None`` for the no-data form, which sets ``absent_for`` instead.
    condition: Condition | None
    absent_for: Duration | None
    for_: Duration | None
    severity: str
    layer: str
    #: Label matchers (Prometheus label name, value), sorted.
    selector: tuple[tuple[str, str], ...]
    message: str
    summary: str | None
    runbook: str | None
    group: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Slo:
    """``objective`` of events are good over ``period``.

    Good means faster than ``latency_below`` (a histogram) or, for an error
    SLO, not counted by ``errors`` out of ``total``.
    """

    id: str
    source: Location
    objective: float
    period: Duration
    metric: MetricDefinition
    latency_below: float | None
    errors: MetricDefinition | None
    layer: str
    selector: tuple[tuple[str, str], ...]
    message: str | None
    summary: str | None
    runbook: str | None
    group: str
    actions: tuple[Action, ...]
    ticket_actions: tuple[Action, ...]


@dataclass(frozen=True)
class AlertFile:
    """Everything one source file defines, in the order written."""

    path: str
    group: str
    alerts: tuple[Alert, ...] = ()
    slos: tuple[Slo, ...] = ()
    #: Warnings about names made from the file name (``über.yml`` -> ``_ber``), for the compiler to show.
    name_notes: tuple[Problem, ...] = ()
