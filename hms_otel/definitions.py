"""What a metric definition is: its kinds, the naming rules, the Prometheus names.

The contract (:mod:`hms_otel.contract`) is data written in these types and the
registry (:mod:`hms_otel.registry`) is the store seeded with it: the registry
imports the contract, the contract only this module, so there is no cycle and
nothing is registered as a side effect of importing a facade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

#: Bucket boundaries in milliseconds, the default of every ``ms`` histogram:
#: dense around the 0.8 s normal and the 2 s SLA of payments, reaching past
#: the 11 s seen on Election Day.
LATENCY_MS_BUCKETS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 5000, 7500, 10000, 15000, 30000, 60000,
)

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


def _described(value: object) -> str:
    """``value``'s repr for a message, short, and never raising (a name's own ``__repr__`` may)."""
    try:
        text = repr(value)
    except Exception as error:
        return f"(its __repr__ raised {type(error).__name__})"
    return text if len(text) <= 60 else f"{text[:57]}..."


def _plain(name: str) -> str:
    """The text of a ``str`` subclass ``name``, once what a dict or a message does with it works."""
    kind = type(name).__name__
    try:
        text = str.__str__(name)
    except TypeError:  # not really a str (its __class__ says so): no text to check
        raise MetricNameError(f"metric name must be a string, got {kind}: {_described(name)}") from None
    try:
        hash(name), bool(name == text), str(name)
    except Exception as error:
        raise MetricNameError(
            f"metric name {_described(text)} is a str subclass ({kind}) whose own __hash__, __eq__ or __str__ raised "
            f"{type(error).__name__}; give a plain str"
        ) from None
    return text


def check_name(name: object) -> str:
    """Return ``name`` as a plain ``str`` if it follows the OTel instrument-name rules, else raise
    :class:`MetricNameError` saying which rule it broke.

    A ``str`` subclass (a ``StrEnum`` member) is returned as the plain string it holds, so its own
    methods never run in the registry, the facades' caches or a message; one whose ``__hash__``,
    ``__eq__`` or ``__str__`` raises is refused like any other invalid name (no dict could hold it).
    """
    if type(name) is not str:
        if not isinstance(name, str):
            raise MetricNameError(f"metric name must be a string, got {type(name).__name__}: {_described(name)}")
        name = _plain(name)
    if _VALID_NAME.fullmatch(name):
        return name
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
    """The Prometheus label the HMS collector makes of an OTel attribute (``error.type`` -> ``error_type``):
    characters a label cannot hold become ``_``, runs of ``_`` one, and a name starting with a digit or
    ``_`` is prefixed with ``key`` (``1st`` -> ``key_1st``, ``__x`` -> ``key_x``). A digit first is no
    label name at all: Prometheus refused the whole scrape over one such attribute."""
    label = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", attribute))
    if label[:1].isdigit():
        return f"key_{label}"
    return f"key{label}" if label.startswith("_") else label


class ReservedAttribute(ValueError):
    """An attribute whose label Prometheus gives the series itself."""


def check_histogram_attributes(name: str, attributes: object) -> None:
    """Raise :class:`ReservedAttribute` when a histogram's ``attributes`` hold ``le``: the label of each
    bucket's bound. Prometheus refused the collector's whole remote write with it ("label name "le" is
    not unique"), other metrics of the batch with it, and /metrics wrote two ``le`` for each bucket."""
    if "le" in attributes:  # type: ignore[operator]  # a Mapping or a sequence of names
        raise ReservedAttribute(
            f"attribute 'le' of histogram {name!r} is the label Prometheus gives each bucket's bound; "
            "rename the attribute"
        )


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

    @property
    def bucket_boundaries(self) -> tuple[float, ...] | None:
        """Histogram boundaries every instrument of this metric is created with
        (the SDK's explicit-bucket advisory): its own, else the default for its
        unit (``ms``: :data:`LATENCY_MS_BUCKETS`), else ``None`` (the SDK's)."""
        if self.kind is not Kind.HISTOGRAM:
            return None
        if self.buckets is not None:
            return self.buckets
        return LATENCY_MS_BUCKETS if self.unit == "ms" else None
