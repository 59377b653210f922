"""Issue 13 class 10: text from users, apps and alerts cannot drive the operator's terminal
(``hms_otel.terminal.safe_text``, used wherever the stack prints such text)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hms_otel.terminal import safe_name, safe_text, shell_word

HOSTILE = [
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear screen, cursor home
    ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),  # OSC 52: write the clipboard
    ("ok\rFAKE", "ok\\rFAKE"),  # carriage return overwriting the line
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("a\u202eevil", "a\\u202eevil"),  # right-to-left override
    ("a\u2066b", "a\\u2066b"),  # left-to-right isolate
    ("bell\x07 back\x08 del\x7f", "bell\\x07 back\\x08 del\\x7f"),
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_control_sequences_are_shown_not_executed(text: str, shown: str) -> None:
    assert safe_text(text) == shown


def test_plain_text_and_newlines_are_kept() -> None:
    assert safe_text("Payment #123 slow: 11 s — ünïcode ✓\nnext\tx") == "Payment #123 slow: 11 s — ünïcode ✓\nnext\tx"


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_a_name_escapes_what_text_escapes(text: str, shown: str) -> None:
    assert safe_name(text) == shown


@pytest.mark.parametrize(("name", "shown"), [
    ("new\nline.yml", "new\\nline.yml"),  # would split `file:line:col: message` in two
    ("tab\there.yml", "tab\\there.yml"),
    ("sep\u2028x.yml", "sep\\u2028x.yml"),
    (b"p\xffay.yml".decode("utf-8", "surrogateescape"), "p\\xffay.yml"),  # a Latin-1 name, as os.fsdecode keeps it
    ("ünïcode ✓ payé.yml", "ünïcode ✓ payé.yml"),
])
def test_a_name_stays_one_printable_line(name: str, shown: str) -> None:
    assert safe_name(name) == shown
    safe_name(name).encode("utf-8")  # no lone surrogate left for an encoder to refuse


SHELL_WORDS = ["plain", "it's [1] a*b? $HOME `id` %s", "back\\slash", "new\nline", "tab\tand\x1b[31mred",
               "\u202eelif", "p\udcffay", "'\\'\n'"]


@pytest.mark.parametrize("text", SHELL_WORDS)
def test_shell_word_is_one_printable_line_that_bash_reads_back_as_the_same_bytes(text: str) -> None:
    word = shell_word(text)
    assert safe_name(word) == word  # nothing in it moves the terminal or breaks the line
    bash = shutil.which("bash")
    assert bash is not None
    echoed = subprocess.run([bash, "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert echoed == os.fsencode(text)
