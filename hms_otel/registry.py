"""The one registry of metric definitions.

Facades, layer instrumentations, the alert compiler and the dashboards all ask
this registry what a metric is (kind, unit, description, attributes), so a name
means the same thing everywhere. It is seeded with the HMS metric contract
(``hms_otel.contract``); names first seen through a facade are added with the
kind that facade implies.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum

_MAX_NAME_LENGTH = 255
_ALLOWED_CHAR = re.compile(r"[A-Za-z0-9_.\-/]")
_VALID_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")


class Kind(str, Enum):
    COUNTER = "counter"
    UPDOWN_COUNTER = "updowncounter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"
    OBSERVABLE_GAUGE = "observable_gauge"


class MetricNameError(ValueError):
    """A metric name breaks the OpenTelemetry instrument-name rules."""


class MetricKindConflict(ValueError):
    """One metric name used with two different kinds (or units)."""


def check_name(name: object) -> str:
    """Return ``name`` if it follows the OTel instrument-name rules, else raise
    :class:`MetricNameError` saying which rule it broke."""
    if isinstance(name, str) and _VALID_NAME.fullmatch(name):
        return name
    if not isinstance(name, str):
        raise MetricNameError(f"metric name must be a string, got {type(name).__name__}: {name!r}")
    if not name:
        raise MetricNameError("metric name is empty; OpenTelemetry needs 1 to 255 characters")
    if len(name) > _MAX_NAME_LENGTH:
        raise MetricNameError(
            f"metric name {name[:40]!r}... is {len(name)} characters; OpenTelemetry allows at most 255"
        )
    if not ("A" <= name[0] <= "Z" or "a" <= name[0] <= "z"):
        raise MetricNameError(f"metric name {name!r} must start with an ASCII letter, not {name[0]!r}")
    for position, char in enumerate(name):
        if not _ALLOWED_CHAR.fullmatch(char):
            raise MetricNameError(
                f"metric name {name!r} has {char!r} at position {position}; "
                "allowed are ASCII letters, digits, '_', '.', '-' and '/'"
            )
    return name


def prometheus_name(name: str) -> str:
    """The series name the HMS collector gives this metric in Prometheus.

    The collector exports with ``UnderscoreEscapingWithoutSuffixes``: no unit or
    ``_total`` suffix is added, and characters Prometheus does not allow become
    ``_``.
    """
    return re.sub(r"[^A-Za-z0-9_:]", "_", name)


def prometheus_label(attribute: str) -> str:
    """The Prometheus label the HMS collector makes of an OTel attribute
    (``error.type`` -> ``error_type``); label names cannot hold ``:`` either."""
    return re.sub(r"[^A-Za-z0-9_]", "_", attribute)


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    kind: Kind
    unit: str = ""
    description: str = ""
    attributes: tuple[str, ...] = ()
    layer: str | None = None
    #: Histogram bucket boundaries; ``None`` means the default for the unit.
    buckets: tuple[float, ...] | None = field(default=None, compare=False)

    @property
    def prometheus_name(self) -> str:
        return prometheus_name(self.name)

    @property
    def prometheus_series(self) -> tuple[str, ...]:
        """Every series name this metric produces in Prometheus."""
        base = self.prometheus_name
        if self.kind is Kind.HISTOGRAM:
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (base,)

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        return tuple(prometheus_label(attribute) for attribute in self.attributes)


class MetricRegistry:
    """Name -> :class:`MetricDefinition`, safe to use from many threads."""

    def __init__(self, definitions: Iterable[MetricDefinition] = ()) -> None:
        self._definitions: dict[str, MetricDefinition] = {}
        self._lock = threading.Lock()
        for definition in definitions:
            self.add(definition)

    def add(self, definition: MetricDefinition) -> MetricDefinition:
        """Register ``definition``; an identical one is a no-op, a different kind
        or unit under the same name is a :class:`MetricKindConflict`."""
        check_name(definition.name)
        with self._lock:
            existing = self._definitions.get(definition.name)
            if existing is None:
                self._definitions[definition.name] = definition
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


def _seeded() -> MetricRegistry:
    from hms_otel.contract import CONTRACT

    return MetricRegistry(CONTRACT)


#: The process-wide registry, seeded with the HMS metric contract.
REGISTRY = _seeded()
