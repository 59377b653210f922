"""The project's one error model.

Every error the project raises on purpose derives from :class:`HmsError`, so
the CLI can turn it into a clear message without a traceback. Problems in a
user's file (alert, SLO, hook or dashboard files) are :class:`Problem` values
located at ``file:line:col``; a file with problems raises
:class:`ProblemsError` carrying all of them, sorted by position.
"""

# No `from __future__ import annotations`: see "start-up" in hms_otel/stack/up.py.

import errno
import os
from collections.abc import Iterable
from typing import Literal, NamedTuple

Severity = Literal["error", "warning"]


class HmsError(Exception):
    """Base of the errors hms-otel raises on purpose; ``str()`` is the message for the user."""


def os_error_text(error: OSError) -> str:
    """``path: what went wrong`` (``Permission denied``), the way users read it; not ``[Errno 13] ...: 'path'``."""
    reason = os_error_reason(error)
    if error.filename is None:
        return reason
    target = f" -> {_path_text(error.filename2)}" if error.filename2 is not None else ""
    return f"{_path_text(error.filename)}{target}: {reason}"


def os_error_reason(error: OSError) -> str:
    """What went wrong, without the path: ``Permission denied``; for a folder that could not be made or
    entered ("File exists", "Not a directory"), which file is in the way."""
    reason = error.strerror or str(error)
    if error.errno in (errno.EEXIST, errno.ENOTDIR) and isinstance(error.filename, (str, bytes, os.PathLike)):
        # The project opens nothing with O_EXCL, so EEXIST means a folder was wanted where a file is.
        path = os.fsdecode(error.filename)
        blocker = _file_in_the_way(path)
        if blocker is not None:
            return "it is a file, not a folder" if blocker == path else f"{_safe_name(blocker)} is a file, not a folder"
    return reason


def _file_in_the_way(path: str) -> str | None:
    """The first part of ``path`` that exists and is not a folder, if any."""
    parts = []
    head = path
    while head and head not in parts:
        parts.append(head)
        head = os.path.dirname(head)
    for part in reversed(parts):
        if os.path.lexists(part) and not os.path.isdir(part):
            return part
    return None


def _path_text(name: object) -> str:
    if isinstance(name, (str, bytes, os.PathLike)):
        return _safe_name(os.fsdecode(name))
    return str(name)  # a descriptor


def _safe_name(name: str) -> str:
    # Imported here: `hms-ops up` loads this module on its way to starting the servers, and the
    # terminal patterns take about 2 ms to compile; names are shown only when something went wrong.
    from hms_otel.terminal import safe_name

    return safe_name(name)


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut short: a 1 MB value must not become a 1 MB message."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


# Named tuples, not dataclasses: see "start-up" in hms_otel/stack/up.py.


class Location(NamedTuple):
    """Where something was written: 1-based line and column (``path:line:col``)."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{_safe_name(self.path)}:{self.line}:{self.column}"


class Problem(NamedTuple):
    """One located error or warning, printed as ``file:line:col: message``."""

    location: Location
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """By file, then line, then column; equal positions keep their order."""
    return sorted(problems, key=lambda problem: problem.location)


class ProblemsError(HmsError):
    """A file (or set of files) has problems; ``problems`` holds every one, sorted by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted_problems(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.is_error]
