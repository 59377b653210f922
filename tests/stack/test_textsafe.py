"""Issue 13 class 10: text from users, apps and alerts cannot drive the operator's terminal."""

from __future__ import annotations

import json
import urllib.request

import pytest

from hms_otel.stack.demo import serve_sms_phone
from hms_otel.textsafe import printable

HOSTILE = [
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear screen, cursor home
    ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),  # OSC 52: write the clipboard
    ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "\\x1b]8;;http://evil\\x1b\\link\\x1b]8;;\\x1b\\"),  # OSC 8
    ("ok\rFAKE", "ok\\x0dFAKE"),  # carriage return overwriting the line
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("a\u202eevil", "a\\u202eevil"),  # right-to-left override
    ("bell\x07 back\x08 del\x7f", "bell\\x07 back\\x08 del\\x7f"),
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_control_sequences_are_shown_not_executed(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_plain_text_and_newlines_are_kept() -> None:
    assert printable("Payment #123 slow: 11 s — ünïcode ✓\nnext") == "Payment #123 slow: 11 s — ünïcode ✓\nnext"
    assert printable("a\nb\tc", single_line=True) == "a\\nb\\tc"


def test_the_demo_phone_prints_alert_text_neutralised() -> None:
    said: list[str] = []
    server, url = serve_sms_phone(said.append)
    try:
        body = {"alerts": [{"status": "firing", "annotations": {"message": "slow\x1b[2J\nnow"}}]}
        request = urllib.request.Request(
            url + "?to=%1b[31m", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).close()
    finally:
        server.shutdown()
    assert said == ["SMS to \\x1b[31m: slow\\x1b[2J\\nnow"]
