"""Make text from users, apps and alerts safe to print on a terminal.

An alert annotation, a log line or an SMS body can carry terminal escape
sequences (``ESC [ 2 J`` clears the screen, OSC 52 writes the clipboard, OSC 8
forges links) or carriage returns that overwrite what the operator reads.
Every place the stack prints such text goes through :func:`printable`.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f: CSI, OSC, ... as single code points),
# and the Unicode bidirectional overrides that reorder what is displayed.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(text: object, *, single_line: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (ESC becomes ``\\x1b``).

    ``single_line`` also escapes newlines and tabs, for one-line console entries.
    """
    result = _UNSAFE.sub(_visible, str(text))
    if single_line:
        result = result.replace("\n", "\\n").replace("\t", "\\t")
    return result
