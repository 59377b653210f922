"""Hook specifications: the data that says which callables record which metrics.

Specs are declared in Python (:class:`Hook`, :class:`Record`) or read from YAML,
a file or inline text, usually named by an environment variable. Loading
checks the structure against a JSON schema (:mod:`hms_otel.hooks.structure`,
no jsonschema needed in a service) and reports every problem with the file
and line it sits on.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hms_otel.hooks.structure import Violation, violations

#: kind in a spec -> what is recorded.
KINDS: dict[str, str] = {
    "timer": "histogram of the call's duration in ms",
    "counter": "counter: adds `value` (default 1) per call",
    "histogram": "histogram of `value` taken from an argument or the return value",
    "updown": "up-down counter: +1 when the call starts, -1 when it ends",
    "observe": "observable gauge: `value` read from each tracked object at collection time",
}
#: when a timer, counter or histogram records: after every call, only after a return, or only after a raise.
PHASES = ("call", "return", "error")


class HookConfigError(ValueError):
    """Invalid hook configuration; the message names where and what to fix."""


@dataclass(frozen=True)
class Record:
    """One metric recorded at a hook point."""

    metric: str
    kind: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: Source of the recorded number (histogram, counter amount, observe).
    value: str | None = None
    #: Record after every call, only after a return, or only after a raise (not for updown/observe).
    on: str = "call"
    #: Source that must be true for the record to happen.
    when: str | None = None
    #: For observe: the object to track (default: ``arg.self``).
    track: str | None = None
    #: Only used for metrics the registry does not know yet.
    unit: str | None = None
    description: str | None = None
    #: Where it was declared ("file.yaml:12"), for error messages.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Hook:
    """A callable, ``"module:Qualified.name"``, and what to record around it."""

    target: str
    record: tuple[Record, ...]
    origin: str = field(default="", compare=False)


_SOURCE = {"type": ["string", "number", "boolean"]}
_RECORD_SCHEMA = {
    "type": "object",
    "required": ["metric", "kind"],
    "additionalProperties": False,
    "properties": {
        "metric": {"type": "string", "minLength": 1},
        "kind": {"enum": list(KINDS)},
        "attributes": {"type": "object", "additionalProperties": _SOURCE},
        "value": {"type": "string"},
        "on": {"enum": list(PHASES)},
        "when": {"type": "string"},
        "track": {"type": "string"},
        "unit": {"type": "string"},
        "description": {"type": "string"},
    },
}
_SCHEMA = {
    "type": "object",
    "required": ["hooks"],
    "additionalProperties": False,
    "properties": {
        "hooks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["target", "record"],
                "additionalProperties": False,
                "properties": {
                    "target": {
                        "type": "string",
                        "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
                        "description": "module:Qualified.name",
                    },
                    "record": {"type": "array", "minItems": 1, "items": _RECORD_SCHEMA},
                },
            },
        }
    },
}


def load(text: str, where: str) -> tuple[Hook, ...]:
    """Parse YAML (or JSON) hook specs; ``where`` names the text in messages."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise HookConfigError(f"{where}{line}: not valid YAML: {problem}") from None
    if data is None:
        return ()
    if isinstance(data, list):
        data = {"hooks": data}
    errors = sorted((_error_line(data, v), _dotted(v.path), v.message) for v in violations(data, _SCHEMA))
    if errors:
        raise HookConfigError("\n".join(f"{where}:{line}: {path}: {message}" for line, path, message in errors))
    return tuple(
        Hook(
            target=hook["target"],
            record=tuple(Record(**dict(item), origin=f"{where}:{item.line}") for item in hook["record"]),
            origin=f"{where}:{hook.line}",
        )
        for hook in data["hooks"]
    )


def load_file(path: str | os.PathLike[str]) -> tuple[Hook, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise HookConfigError(f"cannot read hook file {path}: {error.strerror or error}") from None
    return load(text, str(path))


def from_env(variable: str, environ: Mapping[str, str] | None = None) -> tuple[Hook, ...] | None:
    """Hooks named by environment variable ``variable``, or ``None`` when unset.

    The value is inline YAML when it starts with ``[`` or ``{`` or spans lines,
    otherwise one or more file paths separated by ``os.pathsep``.
    """
    raw = (os.environ if environ is None else environ).get(variable, "")
    value = raw.strip()
    if not value:
        return None
    if value[0] in "[{" or "\n" in value:
        # Dedent, not strip: stripping would move the first line left of the rest.
        return load(textwrap.dedent(raw), f"${variable}")
    hooks: list[Hook] = []
    for part in value.split(os.pathsep):
        if part.strip():
            try:
                hooks.extend(load_file(part.strip()))
            except HookConfigError as error:
                raise HookConfigError(f"{error} (named by ${variable})") from None
    return tuple(hooks)


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


# YAML 1.1 reads `on:`, `yes` and `off` as booleans; hook files use `on:` as a
# key, so only true/false are booleans here (as in YAML 1.2).
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {loader.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _error_line(data: Any, violation: Violation) -> int:
    path = list(violation.path)
    if violation.unexpected_key is not None:
        # Point at the first unexpected key rather than at the mapping holding it.
        path.append(violation.unexpected_key)
    return _line(data, path)


def _line(data: Any, path: Sequence[Any]) -> int:
    """The line of the deepest node on ``path`` that knows its line."""
    line = getattr(data, "line", 1)
    node = data
    for step in path:
        if isinstance(node, _Mapping):
            line = node.key_lines.get(step, node.line)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", line)
    return line


def _dotted(path: Sequence[Any]) -> str:
    text = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    return text or "top level"
