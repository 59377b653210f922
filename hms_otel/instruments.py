"""The one instrument factory: a registry definition in, an OpenTelemetry instrument out.

The facades (:mod:`hms_otel.metric`), the hook engine and through it every
layer package create their instruments here, so one metric name gets the same
kind, unit, description and histogram boundaries whoever records it and
whatever SDK set-up the process has. Boundaries travel with the instrument as
the SDK's explicit-bucket advisory (no View needed): a plain ``MeterProvider``
gives ``@metric.timer`` and a hook timer the same HMS millisecond buckets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from hms_otel.definitions import Kind, MetricDefinition

__all__ = ["create", "start_at_zero"]

#: Kinds whose series can be exported at 0 before anything happened.
ZERO_STARTABLE = (Kind.COUNTER, Kind.UPDOWN_COUNTER)

Callback = Callable[[CallbackOptions], Iterable[Observation]]


def create(meter: Meter, definition: MetricDefinition, callbacks: Sequence[Callback] | None = None) -> Any:
    """Create the instrument ``definition`` describes on ``meter``.

    ``callbacks`` are for observable gauges, the one kind read rather than set.
    """
    kind, name, unit, description = definition.kind, definition.name, definition.unit, definition.description
    if kind is Kind.HISTOGRAM:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=definition.bucket_boundaries
        )
    if kind is Kind.COUNTER:
        return meter.create_counter(name, unit, description)
    if kind is Kind.UPDOWN_COUNTER:
        return meter.create_up_down_counter(name, unit, description)
    if kind is Kind.GAUGE:
        return meter.create_gauge(name, unit, description)
    return meter.create_observable_gauge(name, list(callbacks or ()), unit, description)


def start_at_zero(instrument: Any, definition: MetricDefinition, attribute_sets: Iterable[Mapping[str, Any]]) -> None:
    """Make each attribute set's series exist now, at 0, so Prometheus sees it
    before the first real increment (``absent()`` and ``rate()`` then work from
    start-up). Adding 0 changes no value; doing it twice is harmless."""
    if definition.kind not in ZERO_STARTABLE:
        raise ValueError(
            f"metric {definition.name!r} is a {definition.kind.value}; only counters and up-down counters "
            "start at 0 (a histogram or gauge has no value before its first measurement)"
        )
    for attributes in attribute_sets:
        instrument.add(0, dict(attributes) or None)
