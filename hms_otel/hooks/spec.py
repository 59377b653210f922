"""Hook specifications: the data that says which callables record which metrics.

Specs are declared in Python (:class:`Hook`, :class:`Record`) or read from YAML,
a file or inline text, usually named by an environment variable. Loading
checks the structure against a small JSON-schema subset (no jsonschema, see
:mod:`hms_otel.hooks.structure`) and reports every problem with the
file and line it sits on.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hms_otel.errors import HmsError, Location, Problem, ProblemsError
from hms_otel.hooks.structure import Violation, violations

if TYPE_CHECKING:
    from hms_otel import yamlfile

T = TypeVar("T")

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


class HookConfigError(HmsError, ValueError):
    """Invalid hook configuration; the message names where and what to fix."""


class HookFileInvalid(ProblemsError, HookConfigError):
    """A hook file (or inline hook text) with located problems, every one of them."""


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


def load(text: str | bytes, where: str) -> tuple[Hook, ...]:
    """Parse YAML (or JSON) hook specs; ``where`` names the text in messages.

    Raises :class:`HookFileInvalid` with every located problem, sorted by position.
    """
    from hms_otel import yamlfile  # PyYAML is imported only by a process that reads a hook file

    root = _read(lambda: yamlfile.read_bytes(text, where, what="hook file"))
    if root is None:
        return ()
    data = _read(lambda: yamlfile.plain_data(root))
    if isinstance(data, list):
        data = {"hooks": data}
        root_path: list[object] = []
    else:
        root_path = ["hooks"]
    problems = [
        Problem(_error_location(root, violation, root_path), f"{_dotted(violation.path)}: {violation.message}")
        for violation in violations(data, _SCHEMA)
    ]
    if problems:
        raise HookFileInvalid(problems)
    assert isinstance(data, dict)
    hooks = []
    for position, hook in enumerate(data["hooks"]):
        hook_path = [*root_path, position]
        records = tuple(
            Record(**item, origin=_origin(root, [*hook_path, "record", index]))
            for index, item in enumerate(hook["record"])
        )
        hooks.append(Hook(target=hook["target"], record=records, origin=_origin(root, hook_path)))
    return tuple(hooks)


def _read(step: Callable[[], T]) -> T:
    from hms_otel import yamlfile

    try:
        return step()
    except yamlfile.NodeError as error:
        raise HookFileInvalid([error.problem()]) from None
    except ProblemsError as error:
        raise HookFileInvalid(error.problems) from None


def _origin(root: yamlfile.Node, path: list[object]) -> str:
    from hms_otel import yamlfile

    location = yamlfile.locate(root, path)
    return f"{location.path}:{location.line}"


def load_file(path: str | os.PathLike[str]) -> tuple[Hook, ...]:
    """Hooks of one file; :class:`HookFileInvalid` (located problems) when it cannot be read or is wrong."""
    from hms_otel import yamlfile

    data = _read(lambda: yamlfile.read_file_bytes(Path(path), str(path), what="hook file"))
    return load(data, str(path))


def from_env(variable: str, environ: Mapping[str, str] | None = None) -> tuple[Hook, ...] | None:
    """Hooks named by environment variable ``variable``, or ``None`` when unset.

    The value is inline YAML when it starts with ``[``, ``{``, ``hooks:`` or ``- `` or spans lines,
    otherwise one or more file paths separated by ``os.pathsep``. Raises
    :class:`HookFileInvalid` with the problems of every file that has any.
    """
    hooks, problems = read_env(variable, environ)
    if problems:
        raise HookFileInvalid(problems)
    return hooks


#: How inline YAML starts: a flow list or mapping, the top-level key, or a list item. A one-line
#: ``hooks: [...]`` was split at its colons (``os.pathsep``) and read as the files ``hooks`` and ``[...``.
_INLINE = re.compile(r"[\[{]|hooks\s*:(?:\s|$)|-(?:\s|$)")


def read_env(variable: str, environ: Mapping[str, str] | None = None
             ) -> tuple[tuple[Hook, ...] | None, list[Problem]]:
    """Like :func:`from_env`, but each file on its own: the hooks of the files that read well, and
    the problems of the others (what a running service uses: one bad file costs only itself)."""
    raw = (os.environ if environ is None else environ).get(variable, "")
    value = raw.strip()
    if not value:
        return None, []
    if _INLINE.match(value) or "\n" in value:
        # Dedent, not strip: stripping would move the first line left of the rest.
        try:
            return load(textwrap.dedent(raw), f"${variable}"), []
        except HookFileInvalid as error:
            return (), error.problems
    hooks: list[Hook] = []
    problems: list[Problem] = []
    for part in value.split(os.pathsep):
        if part.strip():
            try:
                hooks.extend(load_file(part.strip()))
            except HookFileInvalid as error:
                problems.extend(Problem(p.location, f"{p.message} (named by ${variable})", p.severity)
                                for p in error.problems)
    return tuple(hooks), problems


def _error_location(root: yamlfile.Node, violation: Violation, root_path: list[object]) -> Location:
    from hms_otel import yamlfile

    # A bare list is read as {"hooks": [...]}: drop that first step to walk the file's own tree.
    path: list[object] = list(violation.path)
    if not root_path:
        path = path[1:]
    if violation.unexpected_key is not None:
        # Point at the first unexpected key rather than at the mapping holding it.
        holder = yamlfile.locate_node(root, path)
        return yamlfile.key_location(holder, violation.unexpected_key)
    return yamlfile.locate(root, path)


def _dotted(path: Sequence[Any]) -> str:
    text = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")
    return text or "top level"
