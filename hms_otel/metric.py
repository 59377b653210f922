"""The metric facades: ``from hms_otel import metric``.

>>> @metric.timer("payment_latency_ms")
... def pay(order): ...
>>> metric.increment("refund_pdf_total")
>>> metric.log("Payment #123 timed out", level="warning", order="123")
>>> metric.declare("refund_pdf_total", {"channel": "web"})   # exported at 0 from start-up

Everything here sits on the OpenTelemetry *API*: without an SDK it costs
almost nothing; with one (``opentelemetry-instrument``, :class:`OPSAgent`)
measurements go to the SDK, which exports on its own thread.

Tests give the facades their own providers with :func:`use`.

Two rules:
- mistakes a developer makes while writing code (an invalid name, one name
  used as two kinds) raise ``ValueError`` where the decorator or instrument is
  created;
- at call time nothing raises into the application: a failure is logged once
  per metric and counted in ``hms_otel_facade_errors_total``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from types import CoroutineType, TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import _logs, metrics
from opentelemetry._logs import LoggerProvider, SeverityNumber
from opentelemetry.metrics import MeterProvider
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from hms_otel import _fastpath
from hms_otel import instruments as factory
from hms_otel._reentry import deferred_when_nested, facade_lock
from hms_otel.attributes import bounded_values, error_type
from hms_otel.bounds import FAILURE_KEYS, METRIC_NAMES, OTHER, NameLimitReached
from hms_otel.contract import FACADE_ERRORS
from hms_otel.definitions import check_histogram_attributes
from hms_otel.errors import shown
from hms_otel.registry import REGISTRY, Kind, MetricDefinition, check_name

__all__ = ["declare", "errors", "gauge", "increment", "log", "observe", "push", "timer", "use"]

_F = TypeVar("_F", bound=Callable[..., Any])
_SCOPE = _fastpath.SCOPE
_log = logging.getLogger("hms_otel")
_perf_counter = time.perf_counter

_SEVERITY: dict[str, tuple[SeverityNumber, str]] = {
    "trace": (SeverityNumber.TRACE, "TRACE"),
    "debug": (SeverityNumber.DEBUG, "DEBUG"),
    "info": (SeverityNumber.INFO, "INFO"),
    "warn": (SeverityNumber.WARN, "WARN"),
    "warning": (SeverityNumber.WARN, "WARN"),
    "error": (SeverityNumber.ERROR, "ERROR"),
    "critical": (SeverityNumber.FATAL, "FATAL"),
    "fatal": (SeverityNumber.FATAL, "FATAL"),
}

# `level=logging.WARNING` (30) and the other stdlib numbers, by tens (0-9: NOTSET).
_STDLIB_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")


# -- providers and instruments ---------------------------------------------------

# Set by `use()`; None means the global providers (the SDK's once one is set up).
_meter_provider: MeterProvider | None = None
_logger_provider: LoggerProvider | None = None

_instruments: dict[str, Any] = {}
_instruments_lock = facade_lock()


def _instrument(definition: MetricDefinition) -> Any:
    """The one API instrument for ``definition``, created on first use.

    Created through the global meter unless :func:`use` gave a provider:
    before an SDK is installed that is a proxy which binds to the real
    instrument once the SDK arrives.
    """
    instrument = _instruments.get(definition.name)
    if instrument is not None:
        return instrument
    if definition.kind is Kind.OBSERVABLE_GAUGE:
        raise ValueError(
            f"metric {definition.name!r} is an {definition.kind.value}: it is read through a callback "
            "(see hms_otel.hooks), not set with a facade"
        )
    with _instruments_lock:
        instrument = _instruments.get(definition.name)
        if instrument is None:
            from hms_otel import __version__

            meter = metrics.get_meter(_SCOPE, __version__, _meter_provider)
            instrument = _instruments.setdefault(definition.name, factory.create(meter, definition))
    return instrument


@contextlib.contextmanager
def use(
    meter_provider: MeterProvider | None = None, logger_provider: LoggerProvider | None = None
) -> Iterator[None]:
    """Send the facades' measurements and logs to these providers inside the block.

    The documented way for tests (no private caches to clear)::

        reader = InMemoryMetricReader()
        with metric.use(meter_provider=MeterProvider(metric_readers=[reader])):
            charge()                      # an @metric.timer function, decorated anywhere
        reader.get_metrics_data()

    A provider not given stays as it was. Timers created before the block
    record to these providers too; declared counters (:func:`declare`) start
    at 0 in them. On exit the previous providers (by default the global ones)
    are back.
    """
    previous = (_meter_provider, _logger_provider)
    _switch(meter_provider or _meter_provider, logger_provider or _logger_provider)
    try:
        yield
    finally:
        _switch(*previous)


def _switch(meter_provider: MeterProvider | None, logger_provider: LoggerProvider | None) -> None:
    global _meter_provider, _logger_provider
    with _instruments_lock:
        _meter_provider, _logger_provider = meter_provider, logger_provider
        _instruments.clear()
        _by_call.clear()
        # A provider given by `use()` gets every call through its API instruments.
        _fastpath.bypass(meter_provider is not None)
    for live in list(_timers):
        live._bind()
    start_declared()


def _resolve(name: str, kind: Kind, unit: str | None = None) -> MetricDefinition:
    """Check ``name`` and find its definition; raises ``ValueError`` subclasses."""
    checked = check_name(name)
    if checked not in REGISTRY and not METRIC_NAMES.admit(checked):
        raise NameLimitReached(
            f"more than {METRIC_NAMES.limit} distinct metric names; {name!r} is not created "
            f"(raise {METRIC_NAMES.variable} to allow more)"
        )
    return REGISTRY.resolve(checked, kind, unit)


# -- call-time failure handling ------------------------------------------------

_error_counts: Counter[tuple[str, str]] = Counter()
_errors_lock = facade_lock()


def _warn(message: str, *args: object) -> None:
    """``_log.warning``, never raising: with no handler configured, logging writes to ``sys.stderr`` and,
    when the app closed it, raises from its error report; the record or count being made must still be."""
    with contextlib.suppress(Exception):
        _log.warning(message, *args)


# The key of a failure whose metric name cannot be made text (its __str__ raises).
UNPRINTABLE_NAME = "(unprintable name)"


def _name_text(name: object) -> str:
    try:
        # A str subclass as the plain text it holds: its own methods (hash, eq, len) would run in the
        # failure counts below, and a raising one would lose the count.
        return str.__str__(name if isinstance(name, str) else str(name))
    except Exception:  # counted under a placeholder: a hostile name must not make its failure vanish
        return UNPRINTABLE_NAME


@deferred_when_nested
def _failed(facade: str, name: object, error: BaseException) -> None:
    """Log the first failure per (facade, metric), count every one. Never raises."""
    try:
        text = _name_text(name)
        # A name past the longest valid one (255) is cut: a multi-MB name must not be kept, nor logged, whole.
        key = (facade, text if len(text) <= 255 else f"{text[:252]}...")
        if not FAILURE_KEYS.admit(key):  # bounded memory: past the cap, one shared entry
            key = (facade, OTHER)
        with _errors_lock:
            _error_counts[key] += 1
            first = _error_counts[key] == 1
        if first:
            _warn("hms_otel: metric.%s(%s) failed and was skipped: %s", facade, shown(text), error)
        _instrument(FACADE_ERRORS).add(1, {"facade": facade, "metric": key[1][:64]})
    except Exception:
        pass


# The facade a skipped value of each kind came from (values are checked where
# they are folded, which knows the instrument but not the call).
_FACADE_OF_KIND = {Kind.COUNTER: "increment", Kind.UPDOWN_COUNTER: "increment", Kind.GAUGE: "gauge"}


def _invalid_value(kind: Kind, name: str, message: str) -> None:
    _failed(_FACADE_OF_KIND.get(kind, "observe"), name, ValueError(message))


_fastpath.on_invalid = _invalid_value


def errors() -> dict[tuple[str, str], int]:
    """Failures so far, as ``{(facade, metric name): count}``."""
    with _errors_lock:
        return dict(_error_counts)


# (kind, name, *attribute items) -> fast-path series, so a repeated call skips
# name checks and attribute cleaning.
_by_call = _fastpath.call_cache


def _bound(definition: MetricDefinition) -> tuple[MetricDefinition, Any]:
    """What a fast-path series needs: the definition and its API instrument."""
    return definition, _instrument(definition)


# -- timer -----------------------------------------------------------------------


# Start times of the `with` blocks open in this thread or task, innermost last.
# A context variable, not an attribute of the timer: two tasks (or threads) in
# `async with` on one timer object each see only their own starts.
# A linked stack, not a tuple: a block left open (a suspended generator holding one)
# stays in the caller's context, and entering or leaving a block must not copy or
# scan those, so the innermost is pushed and popped in O(1). Immutable nodes: a
# task created inside a block shares the stack without changing it.
_Block = tuple["_Timer", float, "_Block | None"]  # (timer, start, the blocks open before it)
_open_blocks: ContextVar[_Block | None] = ContextVar("hms_otel_open_blocks", default=None)

def _unlink(timer: _Timer, top: _Block | None) -> float | None:
    """Remove ``timer``'s innermost block below the top (blocks left open after it,
    e.g. by a suspended generator): its start, or None when it has none open."""
    above: list[_Block] = []
    block = top
    while block is not None and block[0] is not timer:
        above.append(block)
        block = block[2]
    if block is None:
        return None
    rest = block[2]
    for later, start, _ in reversed(above):  # relinked above the rest: the stack is shared, never changed
        rest = (later, start, rest)
    _open_blocks.set(rest)
    return block[1]


# Live timers, rebound when `use()` changes the meter provider.
_timers: weakref.WeakSet[_Timer] = weakref.WeakSet()


def _refused(name: str, failure: Exception, elapsed_ms: float) -> None:
    """A use of a timer whose attributes could not be bound: counted, nothing recorded."""
    _failed("timer", name, failure)


class _Timer:
    """Decorator and context manager that records elapsed milliseconds.

    Instrument and attributes are resolved once, here, into a fast-path
    series (:mod:`hms_otel._fastpath`), so the hot path is a ``perf_counter``
    pair and one ``Series.record``.
    """

    __slots__ = ("__weakref__", "_attributes", "_definition", "_error_series", "_name", "_record")

    def __init__(self, name: str, attributes: Mapping[str, Any]) -> None:
        self._definition = _resolve(name, Kind.HISTOGRAM, "ms")
        self._name = self._definition.name  # the checked, plain str (never the caller's object)
        check_histogram_attributes(self._name, attributes)
        self._attributes: dict[str, Any] = dict(attributes)
        self._error_series: dict[type, _fastpath.Series] = {}
        self._record: Callable[[float], None] = self._bind_then_record  # until bound
        self._bind_soon()
        _timers.add(self)

    def _bind(self) -> None:
        self._error_series = {}
        try:
            # Values cut where the value is recorded (hms_otel.attributes), on the fast path as on the SDK's.
            self._attributes = bounded_values(self._attributes)
            self._record = _fastpath.bind(*_bound(self._definition), self._attributes).record
        except Exception as failure:
            # An attribute value that cannot be recorded (its __hash__ or __str__ raises) is a
            # call-time failure for `with metric.timer(...)`: every use is skipped and counted.
            self._record = functools.partial(_refused, self._name, failure)

    # Binding may create the instrument (OpenTelemetry's locks): in a signal handler that interrupted a
    # facade, it waits until that facade returns, and a use meanwhile binds first (_bind_then_record).
    _bind_soon = deferred_when_nested(_bind)

    @deferred_when_nested
    def _bind_then_record(self, elapsed_ms: float) -> None:
        try:
            self._bind()
            self._record(elapsed_ms)
        except Exception as failure:
            _failed("timer", self._name, failure)

    @deferred_when_nested
    def _record_error(self, elapsed_ms: float, error: BaseException) -> None:
        try:
            series = self._error_series.get(type(error))
            if series is None:
                attributes = {**self._attributes, ERROR_TYPE: error_type(error)}
                series = self._error_series[type(error)] = _fastpath.bind(*_bound(self._definition), attributes)
            series.record(elapsed_ms)
        except Exception as failure:
            _failed("timer", self._name, failure)

    def __call__(self, func: _F) -> _F:
        if isinstance(func, (staticmethod, classmethod)):
            # Above @staticmethod/@classmethod: time the function inside and keep
            # the descriptor (wrapped as a plain function it would get `self`).
            return type(func)(self(func.__func__))
        if not callable(func):
            raise TypeError(f"@metric.timer({self._name!r}) decorates a function, got a {type(func).__name__}")
        if isinstance(func, type):
            # Wrapped in a function, the class would stop being one: isinstance(), subclassing and
            # class attributes would break wherever it is used.
            raise TypeError(
                f"@metric.timer({self._name!r}) cannot time class {func.__qualname__}: decorate the method "
                f"to time (its __init__ for construction), or use `with metric.timer({self._name!r}):`"
            )
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # Calling a generator function only creates the generator: the
            # timer would measure nothing of the work.
            raise TypeError(
                f"@metric.timer({self._name!r}) cannot time generator {func.__qualname__}: "
                f"time the code that consumes it, or use `with metric.timer({self._name!r}):` inside it"
            )
        timer, name = self, self._name
        record_error = self._record_error

        async def timed_awaiting(start_work: Callable[[], Any], start: float) -> Any:
            """Time from ``start`` until what ``start_work()`` returns has been awaited."""
            try:
                result = await start_work()
            except BaseException as error:
                record_error((_perf_counter() - start) * 1000.0, error)
                raise
            elapsed = (_perf_counter() - start) * 1000.0
            try:
                timer._record(elapsed)
            except Exception as failure:
                _failed("timer", name, failure)
            return result

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                return await timed_awaiting(lambda: func(*args, **kwargs), _perf_counter())

            return timed_async  # type: ignore[return-value]

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = _perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                record_error((_perf_counter() - start) * 1000.0, error)
                raise
            if type(result) is CoroutineType:
                # An async function behind a plain one (a sync decorator, an
                # object with `async def __call__`): time it until awaited, not
                # just the creation of the coroutine.
                return timed_awaiting(lambda: result, start)
            # As in timed_awaiting, written out: a shared helper would be one more call on the hot path.
            elapsed = (_perf_counter() - start) * 1000.0
            try:
                timer._record(elapsed)
            except Exception as failure:
                _failed("timer", name, failure)
            return result

        return timed  # type: ignore[return-value]

    # Context manager use: `with metric.timer("x"):`. Each use is timed on its
    # own (see `_open_blocks`): nested, re-entered and concurrent uses of one
    # timer object all record their own duration.
    def __enter__(self) -> _Timer:
        _open_blocks.set((self, _perf_counter(), _open_blocks.get()))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        now = _perf_counter()
        top = _open_blocks.get()
        if top is not None and top[0] is self:  # the usual case: the innermost block
            _open_blocks.set(top[2])
            start = top[1]
        else:
            found = _unlink(self, top)
            if found is None:
                return  # __exit__ without __enter__ in this context: nothing to time
            start = found
        elapsed = (now - start) * 1000.0
        if error is not None:
            self._record_error(elapsed, error)
            return
        try:
            self._record(elapsed)
        except Exception as failure:
            _failed("timer", self._name, failure)

    async def __aenter__(self) -> _Timer:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, error, tb)


@overload
def timer(name: str, /, **attributes: Any) -> _Timer: ...
@overload
def timer(name: _F, /) -> _F: ...
def timer(name: Any, /, **attributes: Any) -> Any:
    """Time a function (sync or async) or a ``with`` block in milliseconds.

    ``@metric.timer("payment_latency_ms", channel="web")``. A raising call is
    recorded with ``error.type`` and the exception propagates unchanged.
    Raises ``ValueError`` for an invalid name or one registered as another kind.
    """
    if callable(name) or isinstance(name, (staticmethod, classmethod)):  # bare @metric.timer: named after the function
        return _Timer(f"{_function_name(name)}_ms", attributes)(name)
    # `with metric.timer(...)` asks for a timer on every use: one timer object
    # per name and attribute set serves them all (each use keeps its own start
    # in `_open_blocks`), so a use costs no name check, cleaning or binding.
    key = (name, *attributes.items())
    try:
        found = _timer_by_key.get(key)
    except Exception:  # a list value (valid) is unhashable, a hostile __hash__ raises: a timer of its own, not cached
        return _Timer(name, attributes)
    if found is None:
        found = _Timer(name, attributes)
        # 1, 1.0 and True are equal keys but distinct attribute sets: cache plain strings only (a str
        # subclass's own __hash__ and __eq__ would run in later lookups; a name is cached as its checked
        # text), and no value that was cut.
        if (
            len(_timer_by_key) < _TIMER_CACHE_LIMIT
            and all(type(k) is str and type(v) is str for k, v in attributes.items())
            and found._attributes == attributes
        ):
            checked_key = (found._name, *attributes.items())
            _timer_by_key[checked_key] = found
    return found


def _function_name(func: Any) -> str:
    """The name a bare ``@metric.timer`` gives ``func``'s timer; TypeError if it has none to give."""
    try:
        return str.__str__(func.__func__.__name__ if isinstance(func, (staticmethod, classmethod)) else func.__name__)
    except Exception:
        raise TypeError(
            f"bare @metric.timer needs a function with a name; {type(func).__name__} has none: "
            "name the timer, e.g. @metric.timer(\"payment_latency_ms\")"
        ) from None


_timer_by_key: dict[tuple[Any, ...], _Timer] = {}
_TIMER_CACHE_LIMIT = 10_000


# -- call-style facades -----------------------------------------------------------


def _call(facade: str, name: str, kind: Kind, value: float, attributes: dict[str, Any]) -> None:
    try:
        key = (kind, name, *attributes.items())
        try:
            series = _by_call.get(key)
        except Exception:  # a list value (a valid attribute) is unhashable, a hostile __hash__ raises: not cached
            series = None
        if series is None:
            _bind_and_record(facade, name, kind, value, attributes, key)
        else:
            series.record(value)
    except Exception as failure:
        _failed(facade, name, failure)


@deferred_when_nested  # creating an instrument takes OpenTelemetry's locks
def _bind_and_record(
    facade: str, name: str, kind: Kind, value: float, attributes: dict[str, Any], key: tuple[Any, ...]
) -> None:
    try:
        bounded = bounded_values(attributes) if attributes else attributes
        definition = _resolve(name, kind)
        if definition.kind is Kind.HISTOGRAM:
            check_histogram_attributes(definition.name, bounded)
        series = _fastpath.bind(*_bound(definition), bounded)
        if bounded is attributes:  # a cut value is not kept in the cache (bounded memory)
            if type(name) is not str:  # cached under its checked text: its own __hash__ and __eq__ never run there
                key = (kind, definition.name, *attributes.items())
            _fastpath.remember_call(key, attributes, series)
        series.record(value)
    except Exception as failure:
        _failed(facade, name, failure)


def increment(name: str, value: float = 1, /, **attributes: Any) -> None:
    """Add ``value`` to the counter ``name``."""
    _call("increment", name, Kind.COUNTER, value, attributes)


def gauge(name: str, value: float, /, **attributes: Any) -> None:
    """Set the gauge ``name`` to ``value`` (the last value wins)."""
    _call("gauge", name, Kind.GAUGE, value, attributes)


def observe(name: str, value: float, /, **attributes: Any) -> None:
    """Record ``value`` into the histogram ``name``."""
    _call("observe", name, Kind.HISTOGRAM, value, attributes)


def push(name: str, value: float, /, **attributes: Any) -> None:
    """The tutorial's API: record ``value`` as the registry's kind for ``name``
    (a histogram when the name is new)."""
    try:
        # Checked unless a plain str: a list, a dict or a str subclass whose __hash__ raises is skipped and counted.
        definition = REGISTRY.get(name if type(name) is str else check_name(name))
    except Exception as failure:
        _failed("push", name, failure)
        return
    kind = definition.kind if definition is not None else Kind.HISTOGRAM
    if kind in (Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM):
        _call("push", name, kind, value, attributes)
    else:
        _failed("push", name, ValueError(f"{name!r} is an {kind.value}; it cannot be pushed"))


# -- series that exist from the start ------------------------------------------------

# name -> attribute sets declared for it, in declaration order.
_declared: dict[str, list[dict[str, Any]]] = {}
_declared_lock = facade_lock()


def declare(name: str, /, *attribute_sets: Mapping[str, Any]) -> None:
    """Say which attribute sets of counter ``name`` this service will use, so
    each series is exported at 0 from start-up instead of appearing only at
    the first increment (``absent()`` alerts and ``rate()`` panels then work
    right after a restart)::

        metric.declare("refund_pdf_total", {"channel": "web"}, {"channel": "app"})
        metric.declare("payments_retried_total")          # the series without attributes

    Call it at import or start-up, before or after the SDK is set up: the HMS
    set-up (``opentelemetry-instrument``, :class:`OPSAgent`) and :func:`use`
    start every declared series again in the providers they install. Raises
    ``ValueError`` for an invalid name or one that is not a counter or
    up-down counter.
    """
    name = check_name(name)
    definition = REGISTRY.get(name) or REGISTRY.resolve(name, Kind.COUNTER)
    try:
        sets = [bounded_values(dict(attributes)) for attributes in attribute_sets] or [{}]
    except Exception as error:  # a key or value whose own methods raise: said here, where it is written
        raise TypeError(
            f"metric.declare({name!r}): an attribute set cannot be recorded (a key or value raised "
            f"{type(error).__name__})"
        ) from None
    _start_at_zero(definition, sets)  # also checks the kind
    with _declared_lock:
        known = _declared.setdefault(name, [])
        known.extend(attributes for attributes in sets if attributes not in known)


def start_declared() -> None:
    """Export every declared series at 0 in the current providers (called by
    the HMS SDK set-up and :func:`use`; adding 0 twice changes nothing)."""
    with _declared_lock:
        declared = [(name, list(sets)) for name, sets in _declared.items()]
    for name, sets in declared:
        try:
            _start_at_zero(REGISTRY[name], sets)
        except Exception as failure:
            _failed("declare", name, failure)


@deferred_when_nested
def _start_at_zero(definition: MetricDefinition, sets: list[dict[str, Any]]) -> None:
    # A counter the facades record through the fast path starts there, or the
    # SDK would export a second stream of the same name.
    if definition.kind is Kind.COUNTER and _fastpath.enabled():
        for attributes in sets:
            _fastpath.bind(*_bound(definition), attributes).record(0)
    else:
        factory.start_at_zero(_instrument(definition), definition, sets)


# -- logs ---------------------------------------------------------------------------

# (provider, logger): ``get_logger`` costs about 1.5 us, a third of an emit, so
# the logger is looked up again only when the global provider changes.
_logger_cache: tuple[Any, Any] = (None, None)


def _otel_logger() -> Any:
    global _logger_cache
    provider = _logger_provider or _logs.get_logger_provider()
    cached_provider, logger = _logger_cache
    if provider is not cached_provider:
        logger = provider.get_logger(_SCOPE)
        _logger_cache = (provider, logger)
    return logger


# Level names already warned about: a typo (``"WARNIGN"``) is logged once, not on every call. Bounded: past
# the cap, names are recorded as INFO without a word (the first ones already said what is wrong).
_warned_levels: set[str] = set()
_WARNED_LEVELS_LIMIT = 100


def _unknown_level(level: object) -> tuple[SeverityNumber, str]:
    """INFO for a level that is no level name, with a warning the first time (off the normal path)."""
    name = str(level)
    if name not in _warned_levels and len(_warned_levels) < _WARNED_LEVELS_LIMIT:
        _warned_levels.add(name)
        _warn("hms_otel: metric.log(level=%s) is not a level: recorded as INFO; levels are %s "
              "(any case) or a logging number", shown(name), ", ".join(_SEVERITY))
    return SeverityNumber.INFO, "INFO"


def log(message: str, /, level: str | int = "info", **attributes: Any) -> None:
    """Emit an OTel log record (exported to the log store by the HMS collector).

    ``level`` is the record's severity (log stores show it as the ``level``
    field): a name (``"warning"``) or a stdlib number (``logging.WARNING``),
    so it is not also an attribute; ``message`` and any other name can
    be. Attributes become fields of the record in the log store (searchable
    with ``hms-ops logs search --logsql 'name:=value'``); keep them low in
    cardinality where you want to filter on them. They are bounded as the
    metric facades bound theirs (long text cut, sequences and dicts to their
    first items, counted in ``hms_otel_dropped_total``).
    """
    _emit(message, level, attributes)  # the dict as one argument: its keys are not hashed again on the way


@deferred_when_nested  # emitting takes the SDK's locks
def _emit(message: str, level: str | int, attributes: dict[str, Any]) -> None:
    try:
        if type(level) is int:  # logging.ERROR and friends: the stdlib's numbers, by threshold
            severity, text = _SEVERITY[_STDLIB_LEVELS[min(max(level, 0) // 10, 5)]]
        else:
            severity, text = _SEVERITY.get(str(level).lower()) or _unknown_level(level)
        _otel_logger().emit(
            body=str(message),
            severity_number=severity,
            severity_text=text,
            # The metric facades' bounds (the SDK cuts only long strings, and keeps a million-item tuple).
            attributes=bounded_values(attributes) if attributes else None,
            timestamp=time.time_ns(),
        )
    except Exception as failure:
        _failed("log", "log", failure)
