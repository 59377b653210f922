"""Turn hook specs into wrapt wrappers that record metrics, and take them off again.

Everything that can be decided before the first call is decided in
:func:`install`: the target is imported, the instruments created, every source
compiled against the target's signature. The wrapper itself does one
``perf_counter`` pair and the records. A failure while recording is logged once
per record and never reaches the caller; the call's result and exception pass
through untouched.

A call ends when its result is there: an ``async def`` target (or a plain
callable that returns a coroutine, such as an async function behind a sync
decorator) when the coroutine is done, not when it is created. A call that is
cancelled or interrupted (``asyncio.CancelledError``, ``KeyboardInterrupt``)
failed, as with ``@metric.timer``. Generator functions are refused for what
would look at their work: calling one only creates the generator.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from types import CoroutineType
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from hms_otel import _fastpath
from hms_otel import instruments as factory
from hms_otel.hooks import sources
from hms_otel.hooks.sources import MISSING, Call, Extractor, ParameterMap, SourceError, Uses
from hms_otel.hooks.spec import PHASES, Hook, HookConfigError, Record
from hms_otel.registry import REGISTRY, Kind, MetricDefinition, MetricKindConflict, MetricNameError

_log = logging.getLogger("hms_otel.hooks")
#: ``Py_TPFLAGS_IMMUTABLETYPE``: built-in and extension types whose attributes cannot be set.
_IMMUTABLE_TYPE = 1 << 8

_REGISTRY_KIND = {
    "timer": Kind.HISTOGRAM,
    "histogram": Kind.HISTOGRAM,
    "counter": Kind.COUNTER,
    "updown": Kind.UPDOWN_COUNTER,
    "observe": Kind.OBSERVABLE_GAUGE,
}


@dataclass
class Installation:
    """What :func:`install` changed, so :meth:`remove` can restore it exactly."""

    _patches: list[_Patch] = field(default_factory=list)
    _trackers: list[_Tracker] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [patch.target.name for patch in self._patches]

    def remove(self) -> None:
        # Reverse order, so a target patched twice unwinds like a stack.
        for patch in reversed(self._patches):
            patch.restore()
        for tracker in self._trackers:
            tracker.stop()
        self._patches.clear()
        self._trackers.clear()


def install(
    hooks: Iterable[Hook], meter: Meter, where: str = "", fast_scope: _fastpath.Scope | None = None
) -> Installation:
    """Wrap every hook's target; all or nothing: a bad hook raises
    :class:`HookConfigError` listing every problem, and nothing is wrapped.

    ``fast_scope`` (the meter's name and version, when ``meter`` is the global
    one): timers, counters and histograms record through the facades' fast
    path (:mod:`hms_otel._fastpath`) in that scope; it falls back to
    ``meter``'s instruments whenever the fast path is off."""
    prepared, problems = _prepare(hooks, meter, where, fast_scope)
    if problems:
        raise HookConfigError("\n".join(problems))
    installation, problems = _patch(prepared)
    if problems:
        installation.remove()
        raise HookConfigError("\n".join(problems))
    return installation


def install_available(
    hooks: Iterable[Hook], meter: Meter, where: str = "", fast_scope: _fastpath.Scope | None = None
) -> tuple[Installation, list[str]]:
    """Wrap every hook that can be applied, each on its own; the problems of the others, one line each.

    What a running service uses: one bad hook must cost only itself, never the other
    hooks, the other instrumentors or the start of the application. ``fast_scope``
    as for :func:`install`.
    """
    prepared, problems = _prepare(hooks, meter, where, fast_scope)
    installation, more = _patch(prepared)
    return installation, problems + more


_Prepared = list[tuple["_Target", "_HookPoint", str]]


def _prepare(
    hooks: Iterable[Hook], meter: Meter, where: str, fast_scope: _fastpath.Scope | None
) -> tuple[_Prepared, list[str]]:
    """Resolve targets and compile records; targets with a problem are left out."""
    by_target: dict[str, list[Record]] = {}
    origins: dict[str, str] = {}
    for hook in hooks:
        by_target.setdefault(hook.target, []).extend(hook.record)
        origins.setdefault(hook.target, hook.origin or where)

    instruments = _Instruments(meter, fast_scope)
    problems: list[str] = []
    prepared: _Prepared = []
    for target_name, records in by_target.items():
        label = _label(origins[target_name], target_name)
        try:
            target = _Target.resolve(target_name)
        except HookConfigError as error:
            problems.append(f"{label}: {error}")
            continue
        except Exception as error:  # whatever a user's module does on attribute access costs this hook only
            problems.append(f"{label}: cannot resolve it: {type(error).__name__}: {error}")
            continue
        point = _HookPoint(target_name)
        failed = False
        for record in records:
            try:
                point.add(_compile(record, target, instruments))
            except HookConfigError as error:
                failed = True
                problems.append(f"{_label(record.origin or origins[target_name], target_name)}: {error}")
            except Exception as error:  # e.g. a meter that refuses the instrument: this record only
                failed = True
                problems.append(f"{_label(record.origin or origins[target_name], target_name)}: "
                                f"{type(error).__name__}: {error}")
        if not failed:
            prepared.append((target, point, label))
    return prepared, problems


def _patch(prepared: _Prepared) -> tuple[Installation, list[str]]:
    installation = Installation()
    problems = []
    for target, point, label in prepared:
        try:
            patch = target.patch(point)
        except Exception as error:  # e.g. an immutable builtin type: setattr refuses
            problems.append(f"{label}: cannot wrap it: {type(error).__name__}: {error}")
            continue
        installation._trackers.extend(point.trackers)
        installation._patches.append(patch)
        point.start_counters_at_zero()
    return installation, problems


def _label(origin: str, target: str) -> str:
    return f"{origin}: hook {target}" if origin else f"hook {target}"


# --- targets -----------------------------------------------------------------


@dataclass
class _Target:
    name: str
    parent: Any
    attribute: str
    original: Any  # the raw object in parent's namespace (staticmethod/classmethod too)
    had_own: bool
    function: Callable[..., Any]
    parameters: ParameterMap
    is_async: bool
    is_generator: bool = False

    @classmethod
    def resolve(cls, name: str) -> _Target:
        module_name, _, qualname = name.partition(":")
        if not module_name or not qualname:
            raise HookConfigError(f"target {name!r} must look like 'package.module:Class.method'")
        try:
            module = importlib.import_module(module_name)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # an import can fail (or exit) with anything; never the service
            raise HookConfigError(f"cannot import module {module_name!r}: {type(error).__name__}: {error}") from None
        parent: Any = module
        *path, attribute = qualname.split(".")
        for step in path:
            try:
                parent = getattr(parent, step)
            except Exception:  # AttributeError, or whatever a property raises
                raise HookConfigError(f"{module_name} has no {step!r} on the way to {qualname!r}") from None
        if not (inspect.ismodule(parent) or inspect.isclass(parent)):
            raise HookConfigError(f"{'.'.join(path)} in {module_name} is an instance of {type(parent).__name__}, "
                                  f"not a class or module; hook the method on its class: "
                                  f"{module_name}:{type(parent).__qualname__}.{attribute}")
        if isinstance(parent, type) and parent.__flags__ & _IMMUTABLE_TYPE:
            raise HookConfigError(f"{parent.__qualname__} is a built-in type whose methods cannot be wrapped; "
                                  "hook the function of your code that calls it")
        namespace = vars(parent)
        had_own = attribute in namespace
        raw = namespace.get(attribute) if had_own else getattr(parent, attribute, MISSING)
        if raw is MISSING:
            raise HookConfigError(f"{module_name}:{'.'.join(path) or module_name} has no attribute {attribute!r}")
        function = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
        if not callable(function):
            raise HookConfigError(f"{qualname} in {module_name} is a {type(raw).__name__}, not a callable")
        # wrapt hands self/cls of methods over as `instance`, not in args.
        bound_first = inspect.isclass(parent) and not isinstance(raw, staticmethod)
        if inspect.isclass(function):
            raise HookConfigError(f"{qualname} is a class; hook its constructor: {name}.__init__")
        try:
            signature: inspect.Signature | None = inspect.signature(function)
        except (TypeError, ValueError):
            signature = None
        return cls(
            name=name,
            parent=parent,
            attribute=attribute,
            original=namespace.get(attribute),
            had_own=had_own,
            function=function,
            parameters=ParameterMap(signature or inspect.Signature(), bound_first, f"target {name}"),
            is_async=inspect.iscoroutinefunction(function),
            is_generator=inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function),
        )

    def patch(self, point: _HookPoint) -> _Patch:
        wrapper = point.async_wrapper if self.is_async else point.wrapper
        wrapt.wrap_function_wrapper(self.parent, self.attribute, wrapper)
        return _Patch(self)


@dataclass
class _Patch:
    target: _Target

    def restore(self) -> None:
        t = self.target
        unwrap(t.parent, t.attribute)
        # unwrap() puts back `wrapper.__wrapped__`; for classmethods that is the
        # bound method, and for inherited methods it leaves a copy on the
        # subclass. Put back exactly what was there.
        namespace = vars(t.parent)
        if not t.had_own:
            if t.attribute in namespace:
                delattr(t.parent, t.attribute)
        elif namespace.get(t.attribute) is not t.original:
            setattr(t.parent, t.attribute, t.original)


# --- instruments ---------------------------------------------------------------


class _Instruments:
    """One instrument per metric name and meter, described by the registry."""

    def __init__(self, meter: Meter, fast_scope: _fastpath.Scope | None = None) -> None:
        self._meter = meter
        self.fast_scope = fast_scope
        self._made: dict[str, Any] = {}

    def definition(self, record: Record) -> MetricDefinition:
        kind = _REGISTRY_KIND[record.kind]
        unit = "ms" if record.kind == "timer" else record.unit
        try:
            if record.metric in REGISTRY:
                return REGISTRY.resolve(record.metric, kind, unit)
            return REGISTRY.define(
                record.metric,
                kind,
                unit or "",
                record.description or f"Recorded by hook ({record.kind})",
                attributes=tuple(record.attributes),
            )
        except (MetricKindConflict, MetricNameError) as error:
            raise HookConfigError(str(error)) from None

    def get(self, definition: MetricDefinition, callback: factory.Callback | None = None) -> Any:
        made = self._made.get(definition.name)
        if made is None:
            made = factory.create(self._meter, definition, [callback] if callback else None)
            self._made[definition.name] = made
        return made


# --- compiling one record --------------------------------------------------------


def _compile(record: Record, target: _Target, instruments: _Instruments) -> _Recorder:
    if record.kind not in _REGISTRY_KIND:
        raise HookConfigError(
            f"metric {record.metric!r}: unknown kind {record.kind!r}; expected one of {', '.join(_REGISTRY_KIND)}"
        )
    if record.on not in PHASES:
        raise HookConfigError(f"metric {record.metric!r}: 'on' must be one of {', '.join(PHASES)}")
    definition = instruments.definition(record)
    unknown = [key for key in record.attributes if definition.attributes and key not in definition.attributes]
    if unknown:
        raise HookConfigError(
            f"metric {record.metric!r}: attribute {', '.join(map(repr, unknown))} is not one of its "
            f"low-cardinality attributes ({', '.join(definition.attributes)})"
        )
    where = f"metric {record.metric!r} ({record.kind})"
    observed = record.kind == "observe"
    parameters = ParameterMap.none() if observed else target.parameters

    def parse(source: object, what: str) -> tuple[Extractor, Uses]:
        try:
            return sources.parse(source, parameters)
        except SourceError as error:
            raise HookConfigError(f"{where}: {what}: {error}") from None

    attributes: list[tuple[str, Extractor, bool]] = []
    uses = Uses()
    for key, source in record.attributes.items():
        extractor, used = parse(source, f"attribute {key!r}")
        attributes.append((key, extractor, used == Uses()))
        uses |= used
    value = when = None
    if record.value is not None:
        if record.kind in ("timer", "updown"):
            raise HookConfigError(f"{where}: takes no 'value'; it records the {record.kind} itself")
        value, used = parse(record.value, "value")
        uses |= used
    elif record.kind in ("histogram", "observe"):
        raise HookConfigError(f"{where}: needs 'value', the source of the recorded number")
    if record.when is not None:
        when, used = parse(record.when, "when")
        uses |= used
    if record.kind == "updown" and (uses.result or uses.error):
        raise HookConfigError(f"{where}: is counted when the call starts; use arg.* or const: sources only")
    if record.track is not None and not observed:
        raise HookConfigError(f"{where}: 'track' only applies to kind observe")
    # Calling a generator function only creates the generator: no time passes, nothing raises, and the
    # return value is the generator. Such a record would report nothing of the work, silently.
    looks_at_the_work = record.kind in ("timer", "updown") or record.on == "error" or uses.result or uses.error
    if target.is_generator and looks_at_the_work:
        raise HookConfigError(
            f"{where}: {target.name} is a generator function, and calling it only creates the generator "
            "(a timer would record 0 ms, errors while iterating would not be seen); hook the function that "
            "consumes it, or count its calls with kind counter and arg.* sources"
        )
    recorder = _Recorder(record, definition, attributes, value, when)
    if observed:
        try:
            track, _ = sources.parse(record.track or "arg.self", target.parameters)
        except SourceError as error:
            raise HookConfigError(f"{where}: track: {error}") from None
        tracker = _Tracker(recorder, track)
        recorder.tracker = tracker
        recorder.instrument = instruments.get(definition, tracker.observe)
    else:
        recorder.instrument = instruments.get(definition)
        if instruments.fast_scope is not None and definition.kind in _fastpath.KINDS:
            recorder.use_fastpath(instruments.fast_scope)
    return recorder


_SERIES_CACHE_LIMIT = 2000


class _Recorder:
    """One metric recorded at one hook point; all per-call work lives here."""

    def __init__(
        self,
        record: Record,
        definition: MetricDefinition,
        attributes: Sequence[tuple[str, Extractor, bool]],
        value: Extractor | None,
        when: Extractor | None,
    ) -> None:
        self.kind = record.kind
        self.definition = definition
        self.label = f"{record.metric} ({record.kind})"
        self.on_return = record.on in ("call", "return")
        self.on_error = record.on in ("call", "error")
        # Constant attributes are evaluated once, here, not on every call.
        self.static = {k: sources.attribute_value(e(Call(None, (), {}))) for k, e, const in attributes if const}
        self.dynamic = tuple((k, e) for k, e, const in attributes if not const)
        self.value = value
        self.when = when
        self.instrument: Any = None
        self.tracker: _Tracker | None = None
        self._warned = False
        # Set by use_fastpath: the series of the constant attributes, and
        # (attribute items) -> series for dynamic ones.
        self.fast_scope: _fastpath.Scope | None = None
        self.static_series: _fastpath.Series | None = None
        self._series: dict[tuple[Any, ...], _fastpath.Series] = {}

    def use_fastpath(self, scope: _fastpath.Scope) -> None:
        self.fast_scope = scope
        self.static_series = _fastpath.bind(self.definition, self.instrument, self.static, scope)

    def series_for(self, call: Call) -> _fastpath.Series:
        """The fast-path series of this call's attributes (after use_fastpath)."""
        if not self.dynamic:
            return self.static_series  # type: ignore[return-value]
        attributes = self.attributes(call)
        key = tuple(attributes.items())
        series = self._series.get(key)
        if series is None:
            series = _fastpath.bind(self.definition, self.instrument, attributes, self.fast_scope)  # type: ignore[arg-type]
            # 1, 1.0 and True are equal keys but distinct attribute sets: cache strings only.
            if len(self._series) < _SERIES_CACHE_LIMIT and all(type(v) is str for v in attributes.values()):
                self._series[key] = series
        return series

    def _record(self, amount: Any, call: Call) -> None:
        if self.fast_scope is not None:
            self.series_for(call).record(amount)
        elif self.kind == "counter":
            self.instrument.add(amount, self.attributes(call))
        else:
            self.instrument.record(amount, self.attributes(call))

    def attributes(self, call: Call) -> dict[str, Any]:
        if not self.dynamic:
            # All constant: one dict for every call (the SDK copies what it keeps).
            return self.static
        attributes = dict(self.static)
        for key, extractor in self.dynamic:
            try:
                found = extractor(call)
                if found is not MISSING:
                    attributes[key] = sources.attribute_value(found)
            except Exception as error:  # a bad path must not break the caller
                self.warn(f"attribute {key!r}", error)
        return attributes

    def finish(self, call: Call, elapsed_ms: float) -> None:
        kind = self.kind
        if kind == "observe":
            if call.error is None and self.tracker is not None:
                self.tracker.track(call)
            return
        if not (self.on_error if call.error is not None else self.on_return):
            return
        if self.when is not None and not self.when(call):
            return
        if kind == "timer":
            self._record(elapsed_ms, call)
            return
        amount = 1 if self.value is None else self.value(call)
        if amount is MISSING:
            return
        self._record(amount, call)

    def warn(self, what: str, error: BaseException) -> None:
        if not self._warned:  # once per record: a hot path must not flood the log
            self._warned = True
            _log.warning(
                "hms_otel hook %s: %s failed (%s: %s); later failures are not logged",
                self.label,
                what,
                type(error).__name__,
                error,
            )


# --- the wrapper ------------------------------------------------------------------


class _HookPoint:
    """All records of one target behind one wrapt wrapper."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.finishing: tuple[_Recorder, ...] = ()
        self.updowns: tuple[_Recorder, ...] = ()
        self.trackers: list[_Tracker] = []
        self.on_return = False

    def add(self, recorder: _Recorder) -> None:
        if recorder.kind == "updown":
            self.updowns += (recorder,)
        else:
            self.finishing += (recorder,)
        if recorder.tracker is not None:
            self.trackers.append(recorder.tracker)
        # Skip building the call record when nothing looks at a successful return.
        self.on_return = any(r.kind == "observe" or r.on_return for r in self.finishing)

    def start_counters_at_zero(self) -> None:
        """Export every counter's known attribute set (its constant attributes,
        often none) at 0 from now on, so the series exists before the first call."""
        for recorder in self.finishing:
            if recorder.kind == "counter":
                try:
                    if recorder.static_series is not None:  # on the fast path, or the SDK gets a second stream
                        recorder.static_series.record(0)
                    else:
                        factory.start_at_zero(recorder.instrument, recorder.definition, [recorder.static])
                except Exception as error:
                    recorder.warn("start at 0", error)

    def enter(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
        """+1 on each up-down counter; returns what ``leave`` takes 1 from."""
        entered: list[tuple[Any, Any]] = []
        call = Call(instance, args, kwargs)
        for recorder in self.updowns:
            try:
                if recorder.when is not None and not recorder.when(call):
                    continue
                if recorder.fast_scope is not None:
                    series = recorder.series_for(call)
                    series.record(1)
                    entered.append((recorder, series))
                else:
                    attributes = recorder.attributes(call)
                    recorder.instrument.add(1, attributes)
                    entered.append((recorder, attributes))
            except Exception as error:
                recorder.warn("entry", error)
        return entered

    @staticmethod
    def leave(entered: list[tuple[Any, Any]]) -> None:
        for recorder, series_or_attributes in entered:
            try:
                if recorder.fast_scope is not None:
                    series_or_attributes.record(-1)
                else:
                    recorder.instrument.add(-1, series_or_attributes)
            except Exception as error:
                recorder.warn("exit", error)

    def finish(self, call: Call, elapsed_ms: float) -> None:
        for recorder in self.finishing:
            try:
                recorder.finish(call, elapsed_ms)
            except Exception as error:
                recorder.warn("record", error)

    def wrapper(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        entered = self.enter(instance, args, kwargs) if self.updowns else None
        start = perf_counter()
        try:
            result = wrapped(*args, **kwargs)
        # BaseException: a cancelled or interrupted call failed too (as for @metric.timer); it is re-raised.
        except BaseException as error:
            elapsed = (perf_counter() - start) * 1000.0
            self.finish(Call(instance, args, kwargs, MISSING, error), elapsed)
            raise
        finally:
            if entered:
                self.leave(entered)
        if type(result) is CoroutineType:
            # An async function behind a plain callable (a sync decorator, an object with `async def
            # __call__`): the call ends when the coroutine is done, not when it is created.
            return self.async_wrapper(lambda *_args, **_kwargs: result, instance, args, kwargs)
        if self.on_return:
            self.finish(Call(instance, args, kwargs, result), (perf_counter() - start) * 1000.0)
        return result

    async def async_wrapper(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        entered = self.enter(instance, args, kwargs) if self.updowns else None
        start = perf_counter()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as error:
            elapsed = (perf_counter() - start) * 1000.0
            self.finish(Call(instance, args, kwargs, MISSING, error), elapsed)
            raise
        finally:
            if entered:
                self.leave(entered)
        if self.on_return:
            self.finish(Call(instance, args, kwargs, result), (perf_counter() - start) * 1000.0)
        return result


# --- observed objects -----------------------------------------------------------


class _Tracker:
    """Objects an observe hook saw, held weakly, read only when metrics are collected."""

    def __init__(self, recorder: _Recorder, track: Extractor) -> None:
        self._recorder = recorder
        self._track = track
        self._objects: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._stopped = False

    def track(self, call: Call) -> None:
        obj = self._track(call)
        if obj is MISSING or obj is None:
            return
        with self._lock:  # keyed by id: works for unhashable objects too
            self._objects[id(obj)] = obj

    def stop(self) -> None:
        # The SDK cannot drop an observable instrument; an empty tracker observes nothing.
        with self._lock:
            self._stopped = True
            self._objects.clear()

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._stopped:
            return []
        with self._lock:
            objects = list(self._objects.values())
        recorder = self._recorder
        totals: dict[frozenset[tuple[str, Any]], tuple[dict[str, Any], float]] = {}
        for obj in objects:
            call = Call(None, (), {}, obj=obj)
            try:
                if recorder.when is not None and not recorder.when(call):
                    continue
                value = recorder.value(call) if recorder.value else MISSING
            except Exception as error:
                recorder.warn("value", error)
                continue
            if value is MISSING:
                continue
            attributes = recorder.attributes(call)
            key = frozenset(attributes.items())
            # Two live objects with the same attributes (two queues named "default") add up.
            previous = totals.get(key, (attributes, 0))[1]
            totals[key] = (attributes, previous + value)
        return [Observation(value, attributes) for attributes, value in totals.values()]
