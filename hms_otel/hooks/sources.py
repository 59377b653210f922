"""Source expressions: where a hook takes an attribute or a value from.

A source is a short string parsed once, when the hook is installed, into a
plain function of the finished call. Grammar::

    arg.NAME[.path]     a parameter of the hooked callable (``arg.self`` too)
    return[.path]       the return value (absent when the call raised)
    error.type          the exception's class name (absent when it returned)
    outcome             "ok" or "error"
    obj[.path]          the tracked object (observe hooks only)
    const:TEXT          a constant
    len(SOURCE)         the length of another source
    not SOURCE          the negation of another source (for ``when``)

A ``.path`` walks attributes, or keys when the value is a mapping.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hms_otel.attributes import bounded_text, bounded_value, error_type, value_length_limit

#: Returned by an extractor when the call has no such value (e.g. ``return``
#: after an exception); the attribute is then left out, silently.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"^(?:\.{_NAME})*$")


class SourceError(ValueError):
    """A source expression that cannot be parsed or bound to the target."""


class Call:
    """One finished (or entered) call, as extractors see it."""

    __slots__ = ("args", "error", "instance", "kwargs", "obj", "result")

    def __init__(
        self,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        result: Any = MISSING,
        error: BaseException | None = None,
        obj: Any = MISSING,
    ) -> None:
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.result = result
        self.error = error
        self.obj = obj


Extractor = Callable[[Call], Any]


@dataclass(frozen=True)
class Uses:
    """Which parts of a call a source reads, for the kind-specific checks."""

    arguments: bool = False
    result: bool = False
    error: bool = False
    obj: bool = False

    def __or__(self, other: Uses) -> Uses:
        return Uses(*(a or b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[bool, bool, bool, bool]:
        return (self.arguments, self.result, self.error, self.obj)


#: ``len(``/``not`` may wrap a source this many times; deeper is never meant (and would cost recursion).
MAX_NESTING = 8
#: A source longer than this is not a source.
MAX_LENGTH = 1000


def parse(source: object, parameters: ParameterMap, _depth: int = 0) -> tuple[Extractor, Uses]:
    """Compile ``source`` into an extractor for calls of the target described
    by ``parameters``; raise :class:`SourceError` saying what is wrong."""
    if _depth > MAX_NESTING:
        raise SourceError(f"source nests len(...)/not more than {MAX_NESTING} deep")
    if isinstance(source, str) and len(source) > MAX_LENGTH:
        raise SourceError(f"a source is at most {MAX_LENGTH} characters; this one has {len(source)}")
    if isinstance(source, bool | int | float):
        constant = source
        return (lambda call: constant), Uses()
    if not isinstance(source, str):
        raise SourceError(f"a source must be a string, got {type(source).__name__} {source!r}")
    text = source.strip()
    if text.startswith("const:"):
        constant_text = text[len("const:") :]
        return (lambda call: constant_text), Uses()
    if text.startswith("len(") and text.endswith(")"):
        inner, uses = parse(text[4:-1], parameters, _depth + 1)
        return _len(inner), uses
    if text.startswith("not "):
        inner, uses = parse(text[4:], parameters, _depth + 1)
        return _not(inner), uses
    if text == "outcome":
        return _outcome, Uses(error=True)
    if text == "error.type":
        return _error_type, Uses(error=True)
    head, _, rest = text.partition(".")
    path = tuple(rest.split(".")) if rest else ()
    if rest and not _PATH.match("." + rest):
        raise SourceError(f"bad path {rest[:60]!r} in source {source[:80]!r}; use names separated by dots")
    if head == "return":
        return _walk(_result, path), Uses(result=True)
    if head == "obj":
        return _walk(_obj, path), Uses(obj=True)
    if head == "arg":
        if not path:
            raise SourceError(f"source {source!r} names no parameter; write arg.NAME")
        return _walk(parameters.getter(path[0]), path[1:]), Uses(arguments=True)
    raise SourceError(
        f"unknown source {source!r}; a source starts with arg.NAME, return, error.type, outcome, "
        "obj, const:, len( or not"
    )


class ParameterMap:
    """Where each parameter of a target sits in wrapt's (instance, args, kwargs).

    Computed once from the signature, so the hot path indexes a tuple instead
    of calling ``inspect.Signature.bind``.
    """

    def __init__(self, signature: inspect.Signature | None, bound_first: bool, where: str) -> None:
        # wrapt passes ``self``/``cls`` of methods as ``instance``, not in args.
        self._where = where
        self._signature = signature
        self._params = list(signature.parameters.values()) if signature else []
        self._first = self._params.pop(0).name if bound_first and self._params else None

    @classmethod
    def none(cls) -> ParameterMap:
        return cls(None, False, "a tracked object")

    def getter(self, name: str) -> Extractor:
        if self._signature is None:
            raise SourceError(f"arg.{name} is not available on {self._where}; use obj.PATH")
        if name == self._first:
            return _instance
        for position, param in enumerate(self._params):
            if param.name != name:
                continue
            kind = param.kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                return lambda call: call.args[position:]
            if kind is inspect.Parameter.VAR_KEYWORD:
                return lambda call: call.kwargs
            if kind is inspect.Parameter.KEYWORD_ONLY:
                return _keyword(name, param.default)
            if kind is inspect.Parameter.POSITIONAL_ONLY:
                return _positional(position, None, param.default)
            return _positional(position, name, param.default)
        names = ", ".join(p for p in [self._first, *(p.name for p in self._params)] if p)
        raise SourceError(f"{self._where} has no parameter {name!r} (parameters: {names or 'none'})")


def _positional(position: int, name: str | None, default: Any) -> Extractor:
    fallback = MISSING if default is inspect.Parameter.empty else default

    def get(call: Call) -> Any:
        if len(call.args) > position:
            return call.args[position]
        if name is not None:
            return call.kwargs.get(name, fallback)
        return fallback

    return get


def _keyword(name: str, default: Any) -> Extractor:
    fallback = MISSING if default is inspect.Parameter.empty else default
    return lambda call: call.kwargs.get(name, fallback)


def _instance(call: Call) -> Any:
    return call.instance


def _result(call: Call) -> Any:
    return call.result


def _obj(call: Call) -> Any:
    return call.obj


def _outcome(call: Call) -> str:
    return "ok" if call.error is None else "error"


def _error_type(call: Call) -> Any:
    return MISSING if call.error is None else error_type(call.error)


def _len(inner: Extractor) -> Extractor:
    def get(call: Call) -> Any:
        value = inner(call)
        return MISSING if value is MISSING else len(value)

    return get


def _not(inner: Extractor) -> Extractor:
    def get(call: Call) -> Any:
        value = inner(call)
        return MISSING if value is MISSING else not value

    return get


def _walk(base: Extractor, path: tuple[str, ...]) -> Extractor:
    if not path:
        return base

    def get(call: Call) -> Any:
        value = base(call)
        for step in path:
            if value is MISSING:
                return MISSING
            value = value[step] if isinstance(value, Mapping) else getattr(value, step)
        return value

    return get


def attribute_value(value: Any) -> Any:
    """Make ``value`` an OpenTelemetry attribute value (str, bool, int, float); long strings are cut
    (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) so a huge value never enters the SDK's state."""
    if isinstance(value, str):
        return bounded_text(value, value_length_limit())
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int):  # an int past int64 as text, as the facades record it
        return bounded_value(value, value_length_limit())
    if isinstance(value, enum.Enum):
        return attribute_value(value.value)
    return bounded_text(str(value), value_length_limit())
