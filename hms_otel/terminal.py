"""Text from outside (alert messages, log lines, provider answers) made safe to print on a terminal."""

from __future__ import annotations

import re

# ESC/CSI sequences, every other C0/C1 control character except newline and tab, and the Unicode
# bidirectional overrides and isolates (they reorder what the operator reads).
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def safe_text(text: str) -> str:
    """``text`` with terminal control sequences shown as ``\\x1b`` etc. instead of executed."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
