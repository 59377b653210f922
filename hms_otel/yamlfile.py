"""The one reader of user YAML files (alert, SLO, hook and dashboard files).

Strict on purpose, so a value means exactly what was written:

* a file is UTF-8 text of at most :data:`MAX_BYTES` bytes and :data:`MAX_NODES`
  values, one document;
* anchors, aliases (and so "billion laughs" bombs), tags and directives are
  errors; mappings have text keys and no duplicate keys; nesting is bounded;
* scalars are kept as written (:class:`Scalar` keeps the text and its quoting
  style): :func:`text` gives the characters as written (``1.10`` stays
  ``1.10``), :func:`parse_decimal` and :func:`boolean` refuse, with the
  location, the spellings YAML 1.1 reads differently (``010``, ``1:30``,
  ``0x1F``, ``yes``/``on``), and :func:`plain_data` (for schema checks) gives
  the YAML 1.2 core-schema meaning, refusing numbers that would not read back
  as written.

How a file type uses it: :func:`read_file_bytes` then :func:`read_bytes` (both
raise :class:`~hms_otel.errors.ProblemsError`), then read fields from the nodes,
turning a :class:`NodeError` into a problem (``hms_otel.alerts.spec.fields``
does that for alert and dashboard files). :func:`find_files` lists a folder's
files and reports links that dangle or loop.

The events come from PyYAML's libyaml parser when it is there (the pure-Python
one otherwise); the tree is built here, without recursion, in time linear in
the input. Every structural problem of a file is reported, not just the first.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from hms_otel.errors import HmsError, Location, Problem, ProblemsError

#: A user file larger than this is not a configuration file.
MAX_BYTES = 1_000_000
#: Deeper nesting than this is never a configuration file (and would cost recursion elsewhere).
MAX_DEPTH = 64
#: More values than this is never a configuration file; it also bounds the time to read one.
MAX_NODES = 20_000
#: After this many problems the rest of a file is not read (the user has enough to fix).
MAX_PROBLEMS = 100

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Parser events and marks: the C and the pure-Python parser give different classes of the same shape.
Event = Any

# ---- nodes ---------------------------------------------------------------------------------------------


class Node:
    """A node of the tree: where it starts (``location``) and the line it ends on."""

    __slots__ = ("column", "end_line", "line", "path")

    def __init__(self, path: str, line: int, column: int, end_line: int) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.end_line = end_line

    @property
    def location(self) -> Location:
        return Location(self.path, self.line, self.column)

    def describe(self) -> str:
        raise NotImplementedError


class Scalar(Node):
    """A scalar as written: ``text`` (after YAML unquoting) and ``style``
    (``None`` plain, ``'``/``"`` quoted, ``|``/``>`` block)."""

    __slots__ = ("style", "text")

    def __init__(self, path: str, line: int, column: int, end_line: int, text: str, style: str | None = None
                 ) -> None:
        super().__init__(path, line, column, end_line)
        self.text = text
        self.style = style or None

    @property
    def plain(self) -> bool:
        return self.style is None

    @property
    def is_null(self) -> bool:
        return self.plain and _NULL.fullmatch(self.text) is not None

    def value(self) -> object:
        """The YAML 1.2 core-schema value: ``None``, ``bool``, ``int``, ``float`` or ``str``."""
        return core_value(self.text) if self.plain else self.text

    def at(self, offset: int) -> Location:
        """The location of character ``offset`` of the text (the scalar's start if it spans lines)."""
        if offset <= 0 or self.end_line != self.line or self.style in ("|", ">"):
            return self.location
        quote = 1 if self.style in ("'", '"') else 0
        return Location(self.path, self.line, self.column + quote + offset)

    def describe(self) -> str:
        if self.is_null:
            return "nothing (null)"
        shown = self.text if len(self.text) < 60 else self.text[:57] + "..."
        return f"the value {shown!r}"

    def __repr__(self) -> str:
        return f"Scalar({self.text!r} at {self.location})"


class MapNode(Node):
    """Key -> value, in the order written; keys are unique :class:`Scalar` texts."""

    __slots__ = ("_index", "entries")

    def __init__(self, path: str, line: int, column: int, end_line: int,
                 entries: tuple[tuple[Scalar, Node], ...], index: dict[str, tuple[Scalar, Node]]) -> None:
        super().__init__(path, line, column, end_line)
        self.entries = entries
        self._index = index

    def fields(self) -> dict[str, tuple[Scalar, Node]]:
        """Key text -> (key node, value node), for every valid key."""
        return dict(self._index)

    def get(self, key: str) -> Node | None:
        entry = self._index.get(key)
        return entry[1] if entry else None

    def describe(self) -> str:
        return "a mapping"


class ListNode(Node):
    __slots__ = ("items",)

    def __init__(self, path: str, line: int, column: int, end_line: int, items: tuple[Node, ...]) -> None:
        super().__init__(path, line, column, end_line)
        self.items = items

    def describe(self) -> str:
        return "a list"


class NodeError(HmsError):
    """A value that is wrong for its field; the caller turns it into a :class:`Problem` at ``location``."""

    def __init__(self, node: Node, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.location = node.at(offset) if isinstance(node, Scalar) else node.location

    def problem(self) -> Problem:
        return Problem(self.location, self.message)


# ---- reading -------------------------------------------------------------------------------------------


def read_file_bytes(path: str | Path, shown: str, *, what: str = "file") -> bytes:
    """The bytes of ``path`` (one more than :data:`MAX_BYTES` at most, so the size check can tell);
    a dangling or looping link, a directory or a missing file is a located problem."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        if Path(path).is_symlink() and not Path(path).exists():
            reason = f"it is a link to {os.readlink(path)!r}, which does not exist or loops"
        raise ProblemsError([Problem(Location(shown), f"cannot read {what}: {reason}")]) from None


def read_text_file(path: str | Path, shown: str, *, what: str = "file") -> str:
    """The UTF-8 text of a YAML file that another program parses (a deployed Alertmanager config): read
    and decoded as :func:`read_bytes` does, each problem located, but not parsed here (the program has
    its own YAML rules)."""
    return _decode(read_file_bytes(path, shown, what=what), shown, what=what)


def read_bytes(data: bytes | str, path: str, *, what: str = "file") -> Node | None:
    """Parse ``data`` (bytes or text) named ``path``; ``None`` when it holds no document."""
    text = _decode(data, path, what=what)
    return _Builder(path).build(text)


def walk_folders(directory: str | Path) -> Iterator[tuple[Path, list[os.DirEntry[str]] | OSError | None]]:
    """Each folder under ``directory`` (links followed, hidden entries skipped) with its entries sorted by
    name; an ``OSError`` for one that cannot be read, ``None`` for a link back to a folder already walked."""
    seen: set[str] = set()
    pending = [Path(directory)]
    while pending:
        folder = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:
            yield folder, None
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            yield folder, error
            continue
        yield folder, entries
        pending.extend(Path(entry.path) for entry in entries if not entry.name.startswith(".") and _is_dir(entry))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link that loops (ELOOP): find_files says so
        return False


def find_files(directory: str | Path, accept: Callable[[str], bool], *, what: str = "file"
               ) -> tuple[list[Path], list[Problem]]:
    """Files under ``directory`` whose name ``accept`` takes (links followed, hidden entries skipped),
    sorted, and a problem for every link that dangles or loops and every folder that cannot be
    read: nothing is skipped silently."""
    files: list[Path] = []
    problems: list[Problem] = []
    for folder, entries in walk_folders(directory):
        if entries is None:
            problems.append(Problem(Location(str(folder)), "this link leads back to a folder already read "
                                                           "(a loop); remove it"))
            continue
        if isinstance(entries, OSError):
            problems.append(Problem(Location(str(folder)), f"cannot read folder: {entries.strerror or entries}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as error:  # a link that loops (ELOOP)
                problems.append(Problem(Location(str(path)), f"cannot follow link: {error.strerror or error}"))
                continue
            if is_dir:
                continue  # walked by walk_folders
            if accept(entry.name):
                if is_file:
                    files.append(path)
                elif entry.is_symlink() and not os.path.exists(path):
                    problems.append(Problem(Location(str(path)), f"link to {os.readlink(path)!r}, which does not "
                                                                 "exist or loops; fix or remove the link"))
                elif entry.is_symlink():  # to a device, a pipe or a socket
                    problems.append(Problem(Location(str(path)), f"link to {os.readlink(path)!r}, which is not a "
                                                                 f"regular file; {what}s are text files"))
                else:
                    problems.append(Problem(Location(str(path)), f"not a regular file; {what}s are text files"))
    return sorted(files), problems


def _decode(data: bytes | str, path: str, *, what: str = "file") -> str:
    """UTF-8 text of at most :data:`MAX_BYTES` bytes with only characters YAML allows."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ProblemsError([Problem(Location(path), f"{what} is larger than {MAX_BYTES} bytes "
                                                     f"({size} bytes); this is not a configuration file")])
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                # What Windows PowerShell's `>` and Out-File write by default.
                raise ProblemsError([Problem(Location(path), f"UTF-16 text; {what}s are YAML text in UTF-8: "
                                                             "save it as UTF-8")]) from None
            line = data.count(b"\n", 0, error.start) + 1
            column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
            raise ProblemsError([Problem(Location(path, line, column),
                                         f"not UTF-8 text (byte 0x{data[error.start]:02x}); "
                                         f"{what}s are YAML text in UTF-8")]) from None
    else:
        text = data[1:] if data.startswith("\ufeff") else data
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line, column = _position(text, bad.start())
        raise ProblemsError([Problem(Location(path, line, column),
                                     f"character U+{ord(bad.group()):04X} is not allowed in YAML "
                                     "(binary data in a text file?)")])
    return text


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# What YAML allows, minus U+0085, U+2028 and U+2029: line breaks to YAML 1.1 readers and text to
# YAML 1.2 ones, so two tools would read the same file differently.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Builder:
    """Builds the node tree from parser events with an explicit stack (no recursion)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, mark: Any, message: str) -> None:
        location = Location(self.path, mark.line + 1, mark.column + 1) if mark is not None else Location(self.path)
        self.problems.append(Problem(location, message))

    def build(self, text: str) -> Node | None:
        path = self.path
        root: Node | None = None
        documents = 0
        count = 0
        # Each open collection: (start event, children, first line of each key for mappings).
        stack: list[tuple[Event, list[Node], dict[str, int] | None]] = []
        events: Iterator[Event] = yaml.parse(text, Loader=_Loader)
        try:
            for event in events:
                kind = type(event)
                if kind is yaml.ScalarEvent:
                    if event.anchor is not None or event.tag is not None:
                        self._check_properties(event)
                    if event.style == '"' and _ESCAPED_BAD.search(event.value):
                        self.problem(event.start_mark, _surrogates_message(event.value) or
                                     "a control character or lone surrogate written as an escape "
                                     "(\\x.., \\u....) is not allowed in a value")
                    mark = event.start_mark
                    node: Node = Scalar(path, mark.line + 1, mark.column + 1, event.end_mark.line + 1,
                                        event.value, event.style)
                elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                    self._check_properties(event)
                    if len(stack) >= MAX_DEPTH:
                        self.problem(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
                        break
                    stack.append((event, [], {} if kind is yaml.MappingStartEvent else None))
                    continue
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    start, children, _keys = stack.pop()
                    node = self._collection(start, event, children)
                elif kind is yaml.AliasEvent:
                    self.problem(event.start_mark, f"YAML alias *{event.anchor} is not allowed; "
                                                   "write the value out")
                    mark = event.start_mark
                    node = Scalar(path, mark.line + 1, mark.column + 1, mark.line + 1, "")
                elif kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        self.problem(event.start_mark, "a second YAML document ('---'); a file holds one")
                        break
                    if event.version or event.tags:
                        self.problem(event.start_mark, "YAML directives (%YAML, %TAG) are not allowed; "
                                                       "remove the line")
                    continue
                else:
                    continue
                count += 1
                if count > MAX_NODES:
                    self.problem(event.start_mark, f"more than {MAX_NODES} values; this is not a "
                                                   "configuration file")
                    break
                if stack:
                    self._add(stack[-1], node)
                else:
                    root = node
                if len(self.problems) >= MAX_PROBLEMS:
                    self.problem(event.end_mark, f"more than {MAX_PROBLEMS} problems; the rest of the file "
                                                 "was not read")
                    break
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
            lines = text.splitlines()
            if mark is not None and mark.line < len(lines):
                line = lines[mark.line]
                problem = error.problem or ""
                escape = _escape_hint(line, mark.column) if "escape" in problem or "hexdecimal" in problem else None
                if escape:
                    message = escape
                elif "{{" in line and _unquoted_braces(text, mark.line):
                    message += _QUOTE_HINT
                    # The unquoted {{ was already reported as a key that is a mapping: say it once.
                    self.problems = [problem for problem in self.problems if _QUOTE_HINT not in problem.message]
                elif mark.column < len(line) and line[mark.column] == "\t":
                    message += " (a tab: YAML indents with spaces only)"
            self.problem(mark, f"invalid YAML: {message}")
        except yaml.YAMLError as error:
            self.problem(None, f"invalid YAML: {error}")
        if self.problems:
            raise ProblemsError(self.problems)
        return root

    def _check_properties(self, event: Event) -> None:
        if event.anchor is not None:
            self.problem(event.start_mark, f"YAML anchor &{event.anchor} is not allowed; write values out")
        tag = getattr(event, "tag", None)
        if tag is not None:
            self.problem(event.start_mark, f"YAML tag {tag!r} is not allowed; write plain values")

    def _add(self, parent: tuple[Event, list[Node], dict[str, int] | None], node: Node) -> None:
        _start, children, keys = parent
        if keys is not None and len(children) % 2 == 0:  # a key
            invalid = None
            if not isinstance(node, Scalar):
                hint = _QUOTE_HINT if isinstance(node, MapNode) else ""
                invalid = f"a key must be plain text, not {node.describe()}{hint}"
            elif node.text in keys:
                invalid = f"duplicate key {node.text!r} (first set on line {keys[node.text]})"
            else:
                keys[node.text] = node.line
            if invalid is not None:
                self.problems.append(Problem(node.location, invalid))
                node = Scalar(node.path, node.line, node.column, node.end_line, _INVALID_KEY, "'")
        children.append(node)

    def _collection(self, start: Event, end: Event, children: list[Node]) -> Node:
        mark = start.start_mark
        line, column, end_line = mark.line + 1, mark.column + 1, end.end_mark.line + 1
        if type(start) is yaml.SequenceStartEvent:
            return ListNode(self.path, line, column, end_line, tuple(children))
        pairs: list[tuple[Scalar, Node]] = []
        for key, value in zip(children[0::2], children[1::2], strict=True):
            assert isinstance(key, Scalar)  # _add made every key a Scalar
            pairs.append((key, value))
        index = {key.text: (key, value) for key, value in pairs if key.text is not _INVALID_KEY}
        return MapNode(self.path, line, column, end_line, tuple(pairs), index)


_INVALID_KEY = "\0invalid key"
#: What only a double-quoted escape can produce: C0 controls but tab/newline/CR, DEL, C1, surrogates.
_ESCAPED_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_QUOTE_HINT = ' (a value containing {{ must be quoted: message: "Latency {{value}} ms")'
#: A UTF-16 surrogate written as an escape, as JSON writes characters beyond U+FFFF (json.dumps: emoji).
_SURROGATE_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|"
                               r"\\u([dD][c-fC-F][0-9a-fA-F]{2})")
#: An escape with too few hex digits.
_SHORT_ESCAPE = re.compile(r"\\(x|u|U)[0-9a-fA-F]*")
_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


def _unquoted_braces(text: str, line: int) -> bool:
    """Whether line ``line`` (from 0) opens a flow mapping right inside another (``{{``): a value
    beginning with ``{{value}}`` that was not quoted. Read from the tokens, so quoted text never counts."""
    previous: Any = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if token.start_mark.line > line:
                break
            if (type(token) is yaml.FlowMappingStartToken and type(previous) is yaml.FlowMappingStartToken
                    and token.start_mark.line == line and previous.end_mark.index == token.start_mark.index):
                return True
            previous = token
    except yaml.YAMLError:
        pass  # the tokens up to the error are what matters
    return False


def _surrogate_message(high: int, low: int | None) -> str:
    escape = f"\\u{high:04x}" + (f"\\u{low:04x}" if low is not None else "")
    if low is None:
        return (f"{escape} is half of a UTF-16 surrogate pair, not a character: write the character itself "
                "or its code point as \\U followed by 8 hex digits (e.g. \\U0001F6A8)")
    code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
    return (f"{escape} is a UTF-16 surrogate pair (how JSON writes {chr(code)}), which YAML does not read: "
            f"write the character itself or \\U{code:08X}")


def _surrogates_message(value: str) -> str | None:
    """The message for the first surrogate in a value read with the surrogates the escapes wrote."""
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udbff":
            low = value[index + 1] if index + 1 < len(value) else ""
            return _surrogate_message(ord(char), ord(low) if "\udc00" <= low <= "\udfff" else None)
        if "\udc00" <= char <= "\udfff":
            return _surrogate_message(ord(char), None)
    return None


def _escape_hint(line: str, column: int) -> str | None:
    """What is wrong with the escape the parser stopped at (``column`` is just past its start), if it
    is a surrogate or is too short."""
    for match in _SURROGATE_ESCAPE.finditer(line):
        if match.start() <= column <= match.end():
            first, low = match.group(1) or match.group(3), match.group(2)
            return _surrogate_message(int(first, 16), int(low, 16) if low else None)
    for match in _SHORT_ESCAPE.finditer(line):
        if match.start() <= column <= match.end() + 1:
            kind = match.group(1)
            return (f"the escape {match.group()} needs {_ESCAPE_DIGITS[kind]} hex digits after \\{kind} "
                    "(e.g. \\U0001F6A8, \\u00e9, \\x41); or write the character itself")
    return None


# ---- what a scalar means ------------------------------------------------------------------------------

_NULL = re.compile(r"null|Null|NULL|~|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+", re.ASCII)
_OCT = re.compile(r"0o[0-7]+", re.ASCII)
_HEX = re.compile(r"0x[0-9a-fA-F]+", re.ASCII)
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
#: A decimal number written so that every YAML reader and every person reads the same value.
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9]+", re.ASCII)

_YAML11_BOOL = re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF")


def core_value(text: str) -> object:
    """What a plain scalar means in the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


# ---- typed accessors -------------------------------------------------------------------------------------


def text(node: Node, what: str) -> str:
    """The text written, exactly: ``version: 1.10`` is ``"1.10"``, ``code: 010`` is ``"010"``.

    Only null and collections are refused: a plain scalar's characters are its text.
    """
    if not isinstance(node, Scalar):
        raise NodeError(node, f"{what} must be text, not {node.describe()}")
    if node.is_null:
        raise NodeError(node, f"{what} is empty")
    return node.text


def parse_decimal(written: str, error: type[Exception] | object) -> float:
    """``written`` as a finite decimal number; ``error(message)`` builds what is raised otherwise."""
    value = written.strip()
    if _DECIMAL.fullmatch(value):
        number_ = float(value)
        if number_ == float("inf") or number_ == float("-inf"):
            raise error(f"{written!r} is too large")  # type: ignore[operator]
        # 1e-400 reads as 0.0: a value means what was written, so an underflow is refused as
        # an overflow is (a written zero, 0e5 or 0.000, is zero).
        if number_ == 0 and any(char in "123456789" for char in value.lower().partition("e")[0]):
            raise error(f"{written!r} is too small (it would be read as 0)")  # type: ignore[operator]
        # -0 is zero to a reader; kept negative, it would print as "-0" where Prometheus prints 0.
        return number_ + 0.0
    if re.fullmatch(r"[-+]?0[0-9]+(?:\.[0-9]+)?", value, re.ASCII):
        reason = "a leading 0 makes it octal for some readers; drop the leading zeros"
    elif any(char.isdigit() and not char.isascii() for char in value):
        reason = "only the digits 0-9 are numbers"
    elif _HEX.fullmatch(value) or _OCT.fullmatch(value) or value.startswith(("0b", "+0x", "-0x")):
        reason = "write it in decimal"
    elif "_" in value:
        reason = "write it without '_' separators"
    elif ":" in value:
        reason = "base-60 (1:30) is not allowed; write the number in decimal"
    elif _INF.fullmatch(value) or _NAN.fullmatch(value) or value.lower() in ("inf", "nan", "infinity"):
        reason = "it must be a finite number"
    else:
        reason = "it is not a number"
    raise error(f"{written!r} is not a plain decimal number: {reason}")  # type: ignore[operator]


def boolean(node: Node, what: str) -> bool:
    """``true`` or ``false`` (YAML 1.2); ``yes``/``on``/``off``/``no`` are errors naming the fix."""
    if isinstance(node, Scalar) and node.plain and node.text in _BOOL:
        return _BOOL[node.text]
    if isinstance(node, Scalar) and node.plain and _YAML11_BOOL.fullmatch(node.text):
        guess = "true" if node.text.lower() in ("y", "yes", "on") else "false"
        raise NodeError(node, f"{what}: write {guess}, not {node.text!r} (YAML 1.1 and 1.2 read it differently)")
    raise NodeError(node, f"{what} must be true or false, not {node.describe()}")


def plain_data(node: Node | None) -> object:
    """The node as plain Python (dict/list/str/int/float/bool/None), for schema validation.

    A plain scalar whose number would not read back as written (``010``, ``1.10``, ``0x1F``)
    raises :class:`NodeError`: quote it for text, or write the number plainly.
    Iterative, so depth costs no recursion.
    """
    if node is None:
        return None
    result: list[object] = [None]
    # (node, container to fill, key or index in it)
    work: list[tuple[Node, dict[str, object] | list[object], str | int]] = [(node, result, 0)]
    while work:
        current, container, key = work.pop()
        value: object
        if isinstance(current, Scalar):
            value = _plain_scalar(current)
        elif isinstance(current, MapNode):
            mapping: dict[str, object] = {}
            value = mapping
            for entry_key, entry_value in reversed(current.entries):  # popped in written order
                if entry_key.text is not _INVALID_KEY:
                    work.append((entry_value, mapping, entry_key.text))
        else:
            assert isinstance(current, ListNode)
            items: list[object] = [None] * len(current.items)
            value = items
            for position, item in enumerate(current.items):
                work.append((item, items, position))
        if isinstance(container, dict):
            assert isinstance(key, str)
            container[key] = value
        else:
            assert isinstance(key, int)
            container[key] = value
    return result[0]


def _plain_scalar(node: Scalar) -> object:
    value = node.value()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        raise NodeError(node, f"{node.text!r} is not a finite number; quote it if it is text")
    if not _DECIMAL.fullmatch(node.text) or (isinstance(value, float) and re.search(r"\.[0-9]*0$", node.text)):
        raise NodeError(node, f"{node.text!r} is ambiguous: quote it if it is text ('{node.text}'), "
                              f"or write the number plainly (e.g. {value!r})")
    return value


def locate(root: Node, path: Sequence[object]) -> Location:
    """The location of the deepest node on ``path`` (keys and list indexes) that exists."""
    return locate_node(root, path).location


def locate_node(root: Node, path: Sequence[object]) -> Node:
    """The deepest node on ``path`` (keys and list indexes) that exists."""
    node = root
    for step in path:
        if isinstance(node, MapNode) and isinstance(step, str) and step in node._index:
            node = node._index[step][1]
        elif isinstance(node, ListNode) and isinstance(step, int) and 0 <= step < len(node.items):
            node = node.items[step]
        else:
            break
    return node


def key_location(mapping: Node, key: str) -> Location:
    """Where ``key`` is written in ``mapping`` (the mapping itself when absent)."""
    if isinstance(mapping, MapNode) and key in mapping._index:
        return mapping._index[key][0].location
    return mapping.location
