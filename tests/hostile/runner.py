"""The hostile-corpus runner: one table of cases per file type, one checker per file type.

A case is the bytes of a file and what must come of it: a located error
(:class:`Error`: the line, optionally the column, and a fragment of the
message) or the exact meaning (:class:`Means`: a check on what was read).
Checkers turn bytes into :class:`Outcome` and must never raise; a new file
type (e.g. dashboard files) adds a checker to :data:`CHECKERS` and its cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hms_otel.errors import Problem


@dataclass(frozen=True)
class Error:
    """A located error: on ``line`` (and ``column`` when given), whose message contains ``fragment``."""

    line: int
    fragment: str
    column: int | None = None


@dataclass(frozen=True)
class Means:
    """No error, and ``check(value)`` holds for what was read (``what`` says it in words)."""

    what: str
    check: Callable[[object], bool]


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    content: bytes
    expect: Error | Means

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass
class Outcome:
    problems: list[Problem]
    value: object = None


Checker = Callable[[bytes, str], Outcome]
#: file kind -> checker; filled by the modules defining each kind's cases.
CHECKERS: dict[str, Checker] = {}


def case(kind: str, name: str, content: str | bytes, expect: Error | Means) -> Case:
    return Case(kind, name, content.encode() if isinstance(content, str) else content, expect)
