"""Text from outside (alert messages, log lines, provider answers) made safe to print on a terminal."""

from __future__ import annotations

import re

# ESC/CSI sequences and every other C0/C1 control character except newline and tab.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """``text`` with terminal control sequences shown as ``\\x1b`` etc. instead of executed."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
