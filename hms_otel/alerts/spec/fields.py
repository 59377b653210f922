"""Reading the fields of one alert or SLO: typed values, each problem located and collected.

A field check raises :class:`Invalid` after recording its problem, so the
caller can skip what depends on that field and still check the independent
ones (:meth:`FieldReader.attempt`): a user sees every problem of a file at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hms_otel.alerts.model import Duration
from hms_otel.alerts.syntax import SyntaxProblem, parse_duration, shown
from hms_otel.errors import Location, Problem
from hms_otel.registry import REGISTRY, MetricRegistry
from hms_otel.yamlfile import MapNode, Node, NodeError, Scalar, core_value
from hms_otel.yamlfile import text as yaml_text

T = TypeVar("T")
#: Field name -> (key node, value node), as written.
Fields = dict[str, tuple[Scalar, Node]]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}", re.ASCII)
GROUP = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
MAX_TEXT = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Invalid(Exception):
    """Internal: the current field is wrong and has been reported."""


#: What a file name may separate words with; each becomes '_' in the names taken from it.
_SEPARATORS = re.compile(r"[-. ]")
NAME_RULE = "ASCII letters, digits and '_', starting with a letter or '_'"


def written_stem(path: str) -> str:
    """The file's name without the extension, its separators ('-', '.', spaces) written as '_'."""
    return _SEPARATORS.sub("_", Path(path).stem)


def stem(path: str) -> str:
    """The default alert name and rule group of a file, valid as a ``name:`` would have to be:
    :func:`written_stem` (``payment-latency.yml``: ``payment_latency``) with any other character
    written as '_' and a '_' before a leading digit (``über.yml``: ``_ber``, ``2fast.yml``: ``_2fast``).
    The spec step warns when it had to change more than the separators."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", written_stem(path))[:120]  # room for _1, _2... in a list
    return ("_" + name if name[:1].isdigit() else name) or "alerts"


class FieldReader:
    """Collects the problems of one file while its fields are read."""

    def __init__(self, path: str, registry: MetricRegistry = REGISTRY) -> None:
        self.path = path
        self.registry = registry
        self.problems: list[Problem] = []
        #: The default rule group: the file's name as an identifier.
        self.stem = stem(path)

    # ---- reporting -------------------------------------------------------------------------------------
    def fail(self, node: Node | Location, message: str, offset: int = 0) -> Invalid:
        if isinstance(node, Location):
            location = node
        else:
            location = node.at(offset) if isinstance(node, Scalar) else node.location
        self.problems.append(Problem(location, message))
        return Invalid()

    def attempt(self, read: Callable[[], T], default: T) -> T:
        """Run one independent field check; on error (already reported) go on with ``default``."""
        try:
            return read()
        except Invalid:
            return default
        except NodeError as error:
            self.problems.append(error.problem())
            return default

    def value_of(self, read: Callable[[], T]) -> T:
        """``read()`` with a :class:`NodeError` reported as this file's problem."""
        try:
            return read()
        except NodeError as error:
            self.problems.append(error.problem())
            raise Invalid() from None

    # ---- structure ---------------------------------------------------------------------------------------
    def mapping(self, node: Node, what: str) -> Fields:
        if not isinstance(node, MapNode):
            raise self.fail(node, f"expected {what} (a mapping of field: value), not {node.describe()}")
        return node.fields()

    def check_fields(self, fields: Fields, allowed: tuple[str, ...], what: str) -> bool:
        """Report every unknown field; ``True`` when there were any (then a "missing field"
        error would only repeat the typo, so callers skip those)."""
        unknown = False
        hints = 20  # suggestions cost time; a file with thousands of unknown fields gets the first ones
        for name, (key, _value) in fields.items():
            if name not in allowed:
                hints -= 1
                close = difflib.get_close_matches(name[:100], allowed, n=1) if hints > 0 else []
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
                self.fail(key, f"unknown field {shown(name)} in {what}{hint}")
                unknown = True
        return unknown

    # ---- values ------------------------------------------------------------------------------------------
    def text(self, node: Node, what: str, *, max_length: int = MAX_TEXT) -> str:
        """Text exactly as written (``1.10`` stays ``1.10``); not empty, bounded, no control characters."""
        value = self.value_of(lambda: yaml_text(node, what))
        if not value.strip():
            raise self.fail(node, f"{what} is empty")
        if len(value) > max_length:
            raise self.fail(node, f"{what} is {len(value)} characters long; at most {max_length} are allowed")
        if _CONTROL.search(value):
            raise self.fail(node, f"{what} contains control characters")
        return value

    def optional_text(self, fields: Fields, name: str) -> str | None:
        return self.text(fields[name][1], name) if name in fields else None

    def optional_link(self, fields: Fields, name: str) -> str | None:
        """One line of text, such as a URL: :meth:`text` without line breaks, tabs or other invisible
        characters (a link with them is broken in every place that shows it)."""
        if name not in fields:
            return None
        node = fields[name][1]
        value = self.text(node, name)
        bad = next((index for index, char in enumerate(value) if not char.isprintable()), None)
        if bad is not None:
            raise self.fail(node, f"{name} must be one line (a link such as https://wiki.example.gov/runbook); "
                                  f"it contains {shown(value[bad])} at character {bad + 1}")
        return value

    def identifier(self, node: Node, what: str, pattern: re.Pattern[str] = IDENTIFIER) -> str:
        value = self.value_of(lambda: yaml_text(node, what))
        if not pattern.fullmatch(value):
            raise self.fail(node, f"{what} {shown(value)} must be letters, digits and '_' (starting with a "
                                  "letter), e.g. payment_latency_high")
        return value

    def duration(self, node: Node, what: str, *, allow_zero: bool = False) -> Duration:
        if not isinstance(node, Scalar) or node.is_null:
            raise self.fail(node, f"{what} must be a duration like 30s or 5m, not {node.describe()}")
        if node.plain and isinstance(core_value(node.text), int | float) and not isinstance(
                core_value(node.text), bool):
            written = node.text if len(node.text) <= 20 else shown(node.text)
            raise self.fail(node, f"{what}: {written} has no unit; write e.g. 30s or 5m")
        try:
            return parse_duration(node.text.strip(), allow_zero=allow_zero)
        except SyntaxProblem as problem:
            raise self.fail(node, f"{what}: {problem.message}") from None
