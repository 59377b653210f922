"""The facades' hot path: aggregate per (instrument, attribute set), hand the
points to the SDK's readers at collection time.

Why: the SDK's synchronous instruments cost 4-5 us per call with two
attributes (a ``Measurement`` object, attribute cleaning and hashing, context
lookup, one lock per aggregation), and under threads that lock convoys with
the GIL. A facade knows its instrument and attribute set in advance, so it
resolves them once into a :class:`Series` and a call only appends the value to
a ``deque`` (atomic under the GIL: no lock, nothing to convoy on). The values
are folded into bucket counts, sums, min and max in batches, by the calling
thread every ``_FOLD_AT`` values (never waiting: a busy fold is left for
later) and by the collecting thread.

How the points reach the wire: the Python SDK has no MetricProducer. The
readers deliver them (:mod:`hms_otel._fastpath_readers`): ``OPSAgent``'s
``/metrics`` reader is one, and the push readers upstream's configurator
builds are made one when hms_otel adopts the provider
(:func:`hms_otel._sdk_internals.merge_facades_into`). Their
``_receive_metrics`` merges these metrics into the SDK's ``MetricsData``,
each under its meter's scope (the facades': ``hms_otel``; a hook's: its
layer package), with the same names, units, descriptions, bucket boundaries
(the instrument's advisory), cumulative temporality and start times (first
measurement of the attribute set) the SDK would have produced, and the SDK's
cardinality limit (2000 attribute sets per instrument, then
``otel.metric.overflow=true``).

The fast path is on only when hms_otel set up the SDK and every reader
merges (``enable``), and not inside ``metric.use(...)`` (``bypass``).
Otherwise (no SDK: the API no-op; an SDK set up by the application, e.g.
tests with an ``InMemoryMetricReader``; delta temporality;
``OTEL_SDK_DISABLED``; ``OTEL_METRICS_EXEMPLAR_FILTER=always_on``) every
series forwards to its API instrument exactly as before.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.attributes import BoundedAttributes

from hms_otel._reentry import deferred_when_nested, facade_lock
from hms_otel._version import __version__
from hms_otel.registry import Kind, MetricDefinition

if TYPE_CHECKING:  # the SDK is imported at the first collection, not by `from hms_otel import metric`
    from opentelemetry.sdk.metrics.export import Metric, MetricReader
    from opentelemetry.sdk.resources import Resource

_log = logging.getLogger("hms_otel")

SCOPE = "hms_otel"
#: The facades' meter scope (metric.py: ``get_meter("hms_otel", __version__)``).
FACADE_SCOPE = (SCOPE, __version__)
#: The SDK's default per-instrument limit of attribute sets, and its overflow set.
CARDINALITY_LIMIT = 2000
OVERFLOW_ATTRIBUTES: dict[str, Any] = {"otel.metric.overflow": True}
#: The OpenTelemetry specification's default explicit bucket boundaries.
DEFAULT_BOUNDARIES: tuple[float, ...] = (
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0,
)  # fmt: skip
# A calling thread folds its series' pending values once this many wait:
# bounds memory between collections and keeps each fold short (~50 us).
_FOLD_AT = 256
# Call-style facades cache (name, attribute items) -> Series up to this many keys.
_CALL_CACHE_LIMIT = 20_000
# Attribute sets a stream keeps a series for. Only CARDINALITY_LIMIT of them
# are exported; the rest of the room is for series bound (a timer's) but not
# yet measured. Past it a new attribute set gets a series that is not kept and
# records into the overflow series, so unique ids as attribute values cannot
# grow the process without bound (the SDK keeps no more either).
_KEPT_SERIES_LIMIT = 2 * CARDINALITY_LIMIT


class _State:
    """Whether the fast path is on, and what a collection needs besides the series."""

    def __init__(self) -> None:
        self.enabled = False  # installed and not bypassed: what the hot path reads
        self.installed = False
        self.bypassed = False
        self.resource_of: Callable[[], Resource | None] = lambda: None
        self.lock = facade_lock()


_state = _State()
#: (scope, metric name) -> stream; a scope is (name, version) of the meter.
Scope = tuple[str, "str | None"]
_streams: dict[tuple[Scope, str], _Stream] = {}
_streams_lock = facade_lock()
#: (kind, name, *attribute items) -> Series, for the call-style facades.
call_cache: dict[tuple[Any, ...], Series] = {}


def boundaries_for(definition: MetricDefinition) -> tuple[float, ...]:
    """The bucket boundaries the SDK uses for ``definition``: the explicit-bucket
    advisory every instrument is created with (:mod:`hms_otel.instruments`),
    else the specification's defaults."""
    return tuple(definition.bucket_boundaries or DEFAULT_BOUNDARIES)


# -- series: the per-call part ----------------------------------------------------


class Series:
    """One attribute set of one instrument.

    ``record`` is the hot path. ``hot`` is true once the fast path is on and
    the series has had its first measurement (which sets the start time and
    claims a slot under the cardinality limit); until then ``record`` takes
    ``_first``, which may forward to the API instrument instead.
    """

    __slots__ = (
        "_api",
        "_api_attributes",
        "attributes",
        "fold_at",
        "hot",
        "kept",
        "lock",
        "pending",
        "redirect",
        "start",
        "stream",
    )

    def __init__(self, stream: _Stream, attributes: dict[str, Any], api: Callable[..., Any]) -> None:
        self.stream = stream
        self.attributes = attributes
        self._api = api
        self._api_attributes = attributes or None
        self.hot = False
        self.pending: deque[float] = deque()
        self.fold_at = _FOLD_AT  # pending length at which the recording thread folds
        # Plain, not re-entrant: a fold must not run inside another fold of the same values. The call path
        # only tries it (record -> fold(block=False)), so a signal handler cannot wait on it.
        self.lock = threading.Lock()
        self.start = 0
        self.redirect: Series | None = None
        self.kept = True  # false: made past _KEPT_SERIES_LIMIT, goes to the overflow series
        self._reset()

    def _reset(self) -> None:
        """Empty aggregation state (also the fork reset)."""

    def record(self, value: float) -> None:
        if self.hot:
            pending = self.pending
            pending.append(value)
            if len(pending) >= self.fold_at:
                self.fold(block=False)
        else:
            self._first(value)

    @deferred_when_nested  # may add through the API instrument, which takes the SDK's locks
    def _first(self, value: float) -> None:
        # Checked on the SDK's path too: the SDK would keep a NaN in a
        # cumulative sum for good, or a bool or huge int that fails every export.
        checked = self._checked(value)
        if checked is None:
            return
        if not _state.enabled:
            self._api(checked, self._api_attributes)
            return
        target = self.redirect or self.stream.claim(self)
        if target is not self:
            self.redirect = target
            target.record(checked)
            return
        self.record(checked)

    def _checked(self, value: Any) -> float | None:
        """``value`` as it can be exported (:func:`measurement`), or None after
        counting it as dropped (the start time is that of the first value kept)."""
        checked = measurement(value)
        if checked is None:
            self._drop(value, "is not a finite number")
        elif checked < 0 and self.stream.kind in _MONOTONIC:
            self._drop(value, "is negative")
            return None
        return checked

    def fold(self, block: bool = True) -> None:
        """Move pending values into the aggregation; skipped when another
        thread is folding and ``block`` is false."""
        if not self.lock.acquire(blocking=block):
            # Another thread is folding (and may have lost the GIL mid-fold):
            # try again only after another batch, not on every call.
            self.fold_at = len(self.pending) + _FOLD_AT
            return
        try:
            self.fold_at = _FOLD_AT
            self._fold_pending()
        except Exception as error:  # values not yet popped stay pending for the next fold
            self.stream.warn_once(f"folding failed: {_short_repr(error)}")
        finally:
            self.lock.release()

    def _fold_pending(self) -> None:
        raise NotImplementedError

    def point(self, now: int) -> Any:
        """The cumulative SDK data point, or None; called with ``lock`` held after a fold."""
        raise NotImplementedError

    def _drop(self, value: Any, why: str) -> None:
        self.stream.dropped(value, why)


# Kinds whose measurements must not be negative (the SDK drops those).
_MONOTONIC = (Kind.COUNTER, Kind.HISTOGRAM)


def _sdk_export() -> Any:
    """The SDK's metric data classes, imported at the first collection (an SDK
    is installed by then)."""
    from opentelemetry.sdk.metrics import export

    return export


_INT64_LIMIT = 2**63


def measurement(value: Any) -> float | None:
    """``value`` as OTLP can carry it, or None when it is no finite real number.

    Why: the OTLP encoder writes an ``int`` as int64 and refuses a ``bool``
    or an int past 64 bits, failing the whole export request (so one gauge
    set to ``True`` would stop every metric of the process for good), and a
    ``Decimal`` cannot be added to a ``float`` (the fold would lose the batch).
    So ints stay ints within int64, other real numbers (``bool``, ``Decimal``,
    ``Fraction``, numpy scalars, huge ints) become ``int`` or ``float``, and
    strings, ``None``, NaN and infinities are refused.
    """
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None  # NaN and +-inf give NaN
    if kind is int:
        return value if -_INT64_LIMIT <= value < _INT64_LIMIT else measurement(_to_float(value))
    try:
        if hasattr(kind, "__index__"):  # bool, numpy integers
            return measurement(int(value))
        if hasattr(kind, "__float__"):  # Decimal, Fraction, numpy floats; not str or bytes
            return measurement(float(value))
    except Exception:
        # Any exception, not only the arithmetic ones: a value object whose
        # __float__ raises RuntimeError is one invalid value, skipped and counted.
        pass
    return None


def _to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _exportable_sum(total: float) -> float:
    """A sum of int64 values can pass int64 itself: then it goes out as a float."""
    if type(total) is int and not -_INT64_LIMIT <= total < _INT64_LIMIT:
        return float(total)
    return total


class _SumSeries(Series):
    __slots__ = ("_interval", "_total")

    def _reset(self) -> None:
        self._interval: float | None = None
        self._total: float | None = None

    def _fold_pending(self) -> None:
        popleft, pending = self.pending.popleft, self.pending
        interval = self._interval
        monotonic = self.stream.kind in _MONOTONIC
        # What is there now: a thread still appending is not chased (it folds its own later).
        try:
            for _ in range(len(pending)):
                raw = popleft()
                # Inline for the common finite float (a timer's or most counters' value): no call per value.
                value = raw if type(raw) is float and raw - raw == 0.0 else measurement(raw)
                if value is None or (monotonic and value < 0):
                    self._drop(raw, "is not a finite number" if value is None else "is negative")
                    continue
                interval = (0 if interval is None else interval) + value
        finally:
            # Popped values live only in `interval`: whatever interrupts the loop
            # (an exception, KeyboardInterrupt) must not take them with it.
            self._interval = interval

    def point(self, now: int) -> Any:
        if self._interval is not None:
            self._total = self._interval + (0 if self._total is None else self._total)
            self._interval = None
        if self._total is None:
            return None
        return _sdk_export().NumberDataPoint(
            attributes=self.attributes,
            start_time_unix_nano=self.start,
            time_unix_nano=now,
            value=_exportable_sum(self._total),
        )


class _HistogramSeries(Series):
    __slots__ = ("_boundaries", "_counts", "_max", "_min", "_sum", "_total_counts", "_total_sum")

    def _reset(self) -> None:
        self._boundaries = self.stream.boundaries
        self._counts: list[int] | None = None
        self._sum: float = 0
        self._min = math.inf
        self._max = -math.inf
        self._total_counts: list[int] | None = None
        self._total_sum: float = 0

    def _fold_pending(self) -> None:
        popleft, pending, boundaries = self.pending.popleft, self.pending, self._boundaries
        counts = self._counts
        total, low, high = self._sum, self._min, self._max
        # What is there now: a thread still appending is not chased (it folds its own later).
        try:
            for _ in range(len(pending)):
                raw = popleft()
                value = raw if type(raw) is float and raw - raw == 0.0 else measurement(raw)  # as in _SumSeries
                if value is None or value < 0:
                    self._drop(raw, "is not a finite number" if value is None else "is negative")
                    continue
                if counts is None:
                    counts = [0] * (len(boundaries) + 1)
                total += value
                if value < low:
                    low = value
                if value > high:
                    high = value
                counts[bisect_left(boundaries, value)] += 1
        finally:  # as in _SumSeries: values popped so far are kept whatever interrupts the loop
            self._counts, self._sum, self._min, self._max = counts, total, low, high

    def point(self, now: int) -> Any:
        counts = self._counts
        if counts is not None:
            previous = self._total_counts or [0] * len(counts)
            self._total_counts = [a + b for a, b in zip(counts, previous, strict=True)]
            self._total_sum = self._sum + self._total_sum
            self._counts, self._sum = None, 0
        if self._total_counts is None:
            return None
        return _sdk_export().HistogramDataPoint(
            attributes=self.attributes,
            start_time_unix_nano=self.start,
            time_unix_nano=now,
            count=sum(self._total_counts),
            sum=self._total_sum,
            bucket_counts=tuple(self._total_counts),
            explicit_bounds=self._boundaries,
            min=self._min,
            max=self._max,
        )


class _GaugeSeries(Series):
    """Last value wins: a store is atomic under the GIL, nothing to fold."""

    __slots__ = ("_value",)

    def _reset(self) -> None:
        self._value: float | None = None

    def record(self, value: float) -> None:
        if self.hot:
            checked = measurement(value)
            if checked is None:
                self._drop(value, "is not a finite number")
            else:
                self._value = checked
        else:
            self._first(value)

    def _fold_pending(self) -> None:
        pass

    def point(self, now: int) -> Any:
        value = self._value
        if value is None:
            return None
        return _sdk_export().NumberDataPoint(
            attributes=self.attributes, start_time_unix_nano=None, time_unix_nano=now, value=value
        )


_SERIES_CLASS: dict[Kind, type[Series]] = {
    Kind.COUNTER: _SumSeries,
    Kind.UPDOWN_COUNTER: _SumSeries,
    Kind.HISTOGRAM: _HistogramSeries,
    Kind.GAUGE: _GaugeSeries,
}


# -- streams: one per instrument ------------------------------------------------


class _Stream:
    """One instrument: its series by attribute set, and which have been measured."""

    def __init__(self, definition: MetricDefinition, api_instrument: Any, scope: Scope) -> None:
        self.definition = definition
        self.scope = scope
        self.name = definition.name
        self.kind = definition.kind
        self.unit = definition.unit
        self.description = definition.description
        self.boundaries = boundaries_for(definition) if definition.kind is Kind.HISTOGRAM else ()
        self._api_method = {
            Kind.COUNTER: "add",
            Kind.UPDOWN_COUNTER: "add",
            Kind.HISTOGRAM: "record",
            Kind.GAUGE: "set",
        }[definition.kind]
        self.api_instrument = api_instrument
        self.series: dict[frozenset[tuple[str, type, Any]], Series] = {}
        self.measured: list[Series] = []  # in order of first measurement
        self.overflow: Series | None = None
        self.lock = facade_lock()
        self._warned = False

    def series_for(self, attributes: Mapping[str, Any]) -> Series:
        cleaned = dict(BoundedAttributes(attributes=attributes, immutable=False)) if attributes else {}
        try:
            key = frozenset((k, type(v), v) for k, v in cleaned.items())
        except TypeError:  # a mapping value (valid for the SDK) is unhashable: keyed by its repr
            key = frozenset((k, type(v), repr(v)) for k, v in cleaned.items())
        series = self.series.get(key)
        if series is None:
            with self.lock:
                series = self.series.get(key)
                if series is None:
                    api = getattr(self.api_instrument, self._api_method)
                    series = _SERIES_CLASS[self.kind](self, cleaned, api)
                    if len(self.series) < _KEPT_SERIES_LIMIT:
                        series = self.series.setdefault(key, series)
                    else:
                        series.kept = False
        return series

    def claim(self, series: Series) -> Series:
        """First fast-path measurement of ``series``: start it, or give the
        overflow series once the limit of measured attribute sets is reached."""
        with self.lock:
            if series.hot:
                return series
            if series.start:  # measured before a bypass (`metric.use`): carry on
                series.hot = True
                return series
            if len(self.measured) >= CARDINALITY_LIMIT or not series.kept or series is self.overflow:
                if self.overflow is None:
                    api = getattr(self.api_instrument, self._api_method)
                    created = _SERIES_CLASS[self.kind](self, dict(OVERFLOW_ATTRIBUTES), api)
                    if self.overflow is None:  # no call since the test: a nested claim cannot come between
                        self.overflow = created
                overflow = self.overflow
                if not overflow.hot:
                    overflow.start = time.time_ns()
                    overflow.hot = True
                return overflow
            series.start = time.time_ns()
            self.measured.append(series)
            series.hot = True
            return series

    def metric(self, now: int) -> Any:
        with self.lock:
            measured = list(self.measured)
            if self.overflow is not None and self.overflow.hot:
                measured.append(self.overflow)
        points = []
        for series in measured:
            with series.lock:
                try:
                    series._fold_pending()
                    point = series.point(now)
                except Exception as error:  # said, not swallowed: the series misses this collection
                    self.warn_once(f"collecting failed: {_short_repr(error)}")
                    continue
            if point is not None:
                points.append(point)
        if not points:
            return None
        export = _sdk_export()
        if self.kind in (Kind.COUNTER, Kind.UPDOWN_COUNTER):
            monotonic = self.kind is Kind.COUNTER
            data: Any = export.Sum(points, export.AggregationTemporality.CUMULATIVE, is_monotonic=monotonic)
        elif self.kind is Kind.HISTOGRAM:
            data = export.Histogram(points, export.AggregationTemporality.CUMULATIVE)
        else:
            data = export.Gauge(points)
        return export.Metric(name=self.name, description=self.description, unit=self.unit, data=data)

    def rebind(self, api_instrument: Any) -> None:
        with self.lock:
            self.api_instrument = api_instrument
            api = getattr(api_instrument, self._api_method)
            for series in [*self.series.values(), *([self.overflow] if self.overflow else [])]:
                series._api = api

    def reset(self) -> None:
        """Fork: the child starts with no measured series (like the SDK's reset)."""
        self.lock = facade_lock()
        for series in [*self.series.values(), *([self.overflow] if self.overflow else [])]:
            series.lock = threading.Lock()
            series.hot = False
            series.start = 0
            series.redirect = None
            series.pending.clear()
            series._reset()
        self.measured = []
        # The overflow series stays (reset): series not kept still redirect to it.

    def warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            _log.warning("hms_otel: metric %s: %s", self.name, message)

    def dropped(self, value: Any, why: str) -> None:
        """A measurement that cannot be recorded: the facades count it (``on_invalid``), others warn once."""
        message = f"value {_short_repr(value)} {why}"
        report = on_invalid
        if report is not None and self.scope == FACADE_SCOPE:
            report(self.kind, self.name, message)
        else:
            self.warn_once(message)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else f"{text[:77]}..."


#: Set by :mod:`hms_otel.metric`: ``(kind, metric name, message)`` of a facade
#: measurement that was skipped, so it is logged once and counted like any
#: failed facade call (values are checked when folded, off the call path).
on_invalid: Callable[[Kind, str, str], None] | None = None


def stream(definition: MetricDefinition, api_instrument: Any, scope: Scope = FACADE_SCOPE) -> _Stream:
    """The stream for ``definition`` in ``scope`` (the meter's name and
    version); a new API instrument (``metric.use`` switched providers)
    becomes its fallback."""
    key = (scope, definition.name)
    found = _streams.get(key)
    if found is None:
        with _streams_lock:
            found = _streams.get(key)
            if found is None:
                found = _streams.setdefault(key, _Stream(definition, api_instrument, scope))
    if found.api_instrument is not api_instrument:
        found.rebind(api_instrument)
    return found


def bind(
    definition: MetricDefinition, api_instrument: Any, attributes: Mapping[str, Any], scope: Scope = FACADE_SCOPE
) -> Series:
    """The series a facade (or a hook, in its layer's ``scope``) records into for ``attributes``."""
    return stream(definition, api_instrument, scope).series_for(attributes)


#: Kinds that have a fast path (the facades' kinds); others go to the SDK.
KINDS = tuple(_SERIES_CLASS)


def remember_call(key: tuple[Any, ...], attributes: Mapping[str, Any], series: Series) -> None:
    """Cache ``key`` -> ``series`` for a call-style facade when every key and
    value is a plain string: ``1``, ``1.0`` and ``True`` compare equal but are
    distinct attribute sets, a string equals only a string, and a str
    subclass's own ``__hash__`` and ``__eq__`` would run in later lookups."""
    if len(call_cache) < _CALL_CACHE_LIMIT and all(
        type(name) is str and type(value) is str for name, value in attributes.items()
    ):
        call_cache[key] = series


# -- switching on, collecting, fork ---------------------------------------------------


def enable(resource_of: Callable[[], Resource | None], readers: Sequence[MetricReader]) -> bool:
    """Turn the fast path on for the provider hms_otel adopted, whose readers
    are ``readers`` and whose resource ``resource_of()`` returns; returns
    whether it is on. Off when the SDK would produce something the fast path
    does not (delta temporality, exemplars on every measurement, a disabled
    SDK) or a reader cannot merge."""
    preference = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative").strip().lower()
    if (
        os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        or preference != "cumulative"
        or os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER", "").strip().lower() == "always_on"
        or not readers
        or not all(getattr(reader, "merges_facade_metrics", False) for reader in readers)
    ):
        return False
    with _state.lock:
        _state.resource_of = resource_of
        _state.installed = True
        _state.enabled = not _state.bypassed
    return True


def disable() -> None:
    """Back to the API instruments, with nothing kept (the provider was shut down)."""
    with _state.lock:
        _state.installed = _state.enabled = False
        _state.resource_of = lambda: None
    for found in list(_streams.values()):
        found.reset()


def bypass(on: bool) -> None:
    """While on (``metric.use`` gave a provider), every call goes to the API
    instruments; what the fast path aggregated so far is kept."""
    with _state.lock:
        _state.bypassed = on
        _state.enabled = _state.installed and not on
        if on:
            for found in list(_streams.values()):
                for series in [*found.series.values(), *([found.overflow] if found.overflow else [])]:
                    series.hot = False


def enabled() -> bool:
    """Whether facade calls aggregate here now."""
    return _state.enabled


def installed() -> bool:
    """Whether the readers deliver what aggregated here (also while bypassed)."""
    return _state.installed


def resource() -> Resource | None:
    """The resource of the provider the fast path was enabled for."""
    return _state.resource_of()


def reset_after_fork() -> None:
    _state.lock = facade_lock()
    for found in list(_streams.values()):
        found.reset()


def metrics_now() -> list[tuple[Scope, Metric]]:
    """The cumulative metrics aggregated here, with their scopes; one collection."""
    now = time.time_ns()
    found = []
    for item in list(_streams.values()):
        produced = item.metric(now)
        if produced is not None:
            found.append((item.scope, produced))
    return found
