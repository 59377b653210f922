"""Text from outside (alert messages, log lines, provider answers) made safe to print on a terminal, and
a standard output that was closed told apart from one that works."""

from __future__ import annotations

import contextlib
import functools
import io
import re
import sys
from collections.abc import Iterator

# ESC/CSI sequences, every other C0/C1 control character except newline and tab, and the Unicode
# bidirectional overrides and isolates (they reorder what the operator reads).
_CONTROL = (
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


# What else would break or fake a one-line ``file:line:col: message``: newlines and tabs, the Unicode line
# and paragraph separators, and the bytes of a file name that is not UTF-8 (os.fsdecode keeps each as a
# lone surrogate, which no encoder writes).
_NOT_IN_A_NAME = _CONTROL + r"|[\t\n\u2028\u2029]|[\udc80-\udcff]"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use, not at import: `hms-ops up` imports this module before it starts the servers.
    return re.compile(pattern)


def _escaped(match: re.Match[str]) -> str:
    found = match.group()
    if len(found) == 1 and 0xDC80 <= ord(found) <= 0xDCFF:
        return f"\\x{ord(found) - 0xDC00:02x}"  # the byte as it is on disk
    return found.encode("unicode_escape").decode("ascii")


def warn(line: str) -> None:
    """Write ``line`` on stderr; never raises. A daemon may run with stderr closed (``2>&-`` makes
    ``sys.stderr`` None) or the app may close it: a warning must not stop the app or its telemetry."""
    with contextlib.suppress(Exception):  # nowhere left to say it
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def safe_text(text: str) -> str:
    """``text`` with terminal control sequences shown as ``\\x1b`` etc. instead of executed."""
    return _compiled(_CONTROL).sub(_escaped, text)


def safe_name(name: str) -> str:
    """A file name (or another one-line value from outside) for a message: as :func:`safe_text`, and
    newlines, tabs and undecodable bytes escaped too (``new\\nline.yml``, ``p\\xffay.yml``)."""
    return _compiled(_NOT_IN_A_NAME).sub(_escaped, name)


def shell_word(text: str) -> str:
    """``text`` as one word to paste into a shell, on one line: quoted as :func:`shlex.quote` does, or as
    bash's ``$'...'`` with escapes when it holds a newline, a control character or undecodable bytes."""
    import shlex

    if safe_name(text) == text:
        return shlex.quote(text)
    return "$'" + safe_name(text.replace("\\", "\\\\").replace("'", "\\'")) + "'"


class _ClosedOutput(io.TextIOBase):
    """Stands in for a closed standard output: takes what is written (nothing can show it) and remembers it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = False
        self.reported = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written = self.written or bool(text)
        return len(text)


def exit_status(code: int) -> int:
    """``code``, or 1 when standard output was closed and the command had something to print (said on stderr
    once; the command ran to its end, so what it did is done)."""
    lost = sys.stdout
    if not isinstance(lost, _ClosedOutput) or not lost.written or lost.reported:
        return code
    lost.reported = True
    warn("error: standard output is closed, so what hms-ops had to print was lost; "
         "give it an output (> FILE, or > /dev/null to discard it)")
    return code or 1


@contextlib.contextmanager
def output_checked() -> Iterator[None]:
    """Run a command whose standard output may be closed (``hms-ops status >&-``).

    Python then has no ``sys.stdout``, and ``print()`` and ``click.echo()`` drop what they are given without
    a word: the command exited 0 though nothing it printed was seen. Here what it prints is taken, and the
    exit status is :func:`exit_status`'s.
    """
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    try:
        yield
    except SystemExit as exiting:
        code = exiting.code
        if code is None or isinstance(code, int):
            code = exit_status(code or 0)
        raise SystemExit(code) from None
    code = exit_status(0)
    if code:
        raise SystemExit(code)
