"""The one registry of metric definitions.

Facades, layer instrumentations, the alert compiler and the dashboards all ask
this registry what a metric is (kind, unit, description, attributes), so a name
means the same thing everywhere. It is seeded with the HMS metric contract
(``hms_otel.contract``); names first seen through a facade or a hook are added
with the kind that use implies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hms_otel._reentry import facade_lock
from hms_otel.contract import CONTRACT
from hms_otel.definitions import (
    Kind,
    MetricDefinition,
    MetricKindConflict,
    MetricNameError,
    check_name,
    prometheus_label,
    prometheus_name,
)

__all__ = [
    "REGISTRY",
    "Kind",
    "MetricDefinition",
    "MetricKindConflict",
    "MetricNameError",
    "MetricRegistry",
    "check_name",
    "prometheus_label",
    "prometheus_name",
]


class MetricRegistry:
    """Name -> :class:`MetricDefinition`, safe to use from many threads."""

    def __init__(self, definitions: Iterable[MetricDefinition] = ()) -> None:
        self._definitions: dict[str, MetricDefinition] = {}
        # Prometheus series name -> the metric that has it (the HMS collector and /metrics write both).
        self._series: dict[str, str] = {}
        self._lock = facade_lock()
        for definition in definitions:
            self.add(definition)

    def add(self, definition: MetricDefinition) -> MetricDefinition:
        """Register ``definition``; an identical one is a no-op, a different kind
        or unit under the same name is a :class:`MetricKindConflict`."""
        check_name(definition.name)
        with self._lock:
            existing = self._definitions.get(definition.name)
            if existing is None:
                series = {definition.prometheus_name, *definition.prometheus_series}
                _check_series_free(definition, series, self._series)
                self._definitions[definition.name] = definition
                self._series.update(dict.fromkeys(series, definition.name))
                return definition
        _check_compatible(existing, definition.kind, definition.unit)
        return existing

    def define(
        self,
        name: str,
        kind: Kind | str,
        unit: str = "",
        description: str = "",
        attributes: Iterable[str] = (),
        layer: str | None = None,
        buckets: Iterable[float] | None = None,
    ) -> MetricDefinition:
        return self.add(
            MetricDefinition(
                name=name,
                kind=Kind(kind),
                unit=unit,
                description=description,
                attributes=tuple(attributes),
                layer=layer,
                buckets=tuple(buckets) if buckets is not None else None,
            )
        )

    def resolve(self, name: str, kind: Kind, unit: str | None = None) -> MetricDefinition:
        """The definition a facade should use for ``name`` as ``kind``.

        Known names must match the registered kind (and unit, when given);
        unknown names are registered on first use.
        """
        existing = self._definitions.get(name)
        if existing is not None:
            _check_compatible(existing, kind, unit)
            return existing
        return self.define(name, kind, unit or "")

    def get(self, name: str) -> MetricDefinition | None:
        return self._definitions.get(name)

    def __getitem__(self, name: str) -> MetricDefinition:
        return self._definitions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def __iter__(self) -> Iterator[MetricDefinition]:
        return iter(list(self._definitions.values()))

    def __len__(self) -> int:
        return len(self._definitions)

    def by_layer(self, layer: str) -> list[MetricDefinition]:
        return [d for d in self if d.layer == layer]


def _check_series_free(definition: MetricDefinition, series: set[str], taken: dict[str, str]) -> None:
    """Refuse a name whose Prometheus series another metric already has (``a.b_total`` and ``a_b_total``,
    or a counter ``x_count`` beside a histogram ``x``): Prometheus would get two series under one name
    and labels, and keep one of them."""
    for name in sorted(series):
        owner = taken.get(name)
        if owner is not None and owner != definition.name:
            raise MetricKindConflict(
                f"metric {definition.name!r} would be {name!r} in Prometheus, which metric {owner!r} already "
                "is. Pick another name."
            )


def _check_compatible(existing: MetricDefinition, kind: Kind, unit: str | None) -> None:
    if existing.kind is not kind:
        raise MetricKindConflict(
            f"metric {existing.name!r} is a {existing.kind.value}"
            f"{f' (HMS {existing.layer} contract)' if existing.layer else ''}; "
            f"it cannot also be used as a {kind.value}. Pick another name."
        )
    if unit is not None and unit != existing.unit and existing.unit:
        raise MetricKindConflict(
            f"metric {existing.name!r} has unit {existing.unit!r}; it cannot also be recorded in {unit!r}"
        )


#: The process-wide registry, seeded with the HMS metric contract.
REGISTRY = MetricRegistry(CONTRACT)
