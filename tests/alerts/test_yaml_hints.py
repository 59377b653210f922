"""The shared YAML reader's hints: the quoting hint only for an unquoted {{, and escapes explained."""

from __future__ import annotations

import pytest
import yaml

from hms_otel import yamlfile
from hms_otel.errors import ProblemsError

HEAD = "metric: my_g\ntype: gauge\nwhen: avg_over_5m > 2\naction: slack:#ops\n"


def _problems(text: str) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        yamlfile.read_bytes(text, "m.yml", what="alert file")
    return [str(problem) for problem in raised.value.problems]


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both parsers: the pure-Python one reads surrogate escapes that libyaml refuses."""
    if request.param == "python":
        monkeypatch.setattr(yamlfile, "_Loader", yaml.SafeLoader)


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize("value,expected", [
    ('"alarm \\ud83d\\udea8 {{value}}"',
     "\\ud83d\\udea8 is a UTF-16 surrogate pair (how JSON writes \U0001F6A8), which YAML does not read: "
     "write the character itself or \\U0001F6A8"),
    ('"lone \\ud83d {{value}}"', "\\ud83d is half of a UTF-16 surrogate pair, not a character"),
    ('"lone \\udea8 {{value}}"', "\\udea8 is half of a UTF-16 surrogate pair, not a character"),
])
def test_a_surrogate_escape_says_what_to_write(value: str, expected: str) -> None:
    """json.dumps writes emoji as \\ud83d\\udea8; the error blamed an unquoted {{ instead."""
    problems = _problems(HEAD + f"message: {value}\n")
    assert len(problems) == 1 and problems[0].startswith("m.yml:5:"), problems
    assert expected in problems[0] and "must be quoted" not in problems[0]


@pytest.mark.parametrize("value,escape", [('"alarm \\U1F6A8 {{value}}"', "\\U1F6A8 needs 8 hex digits"),
                                          ('"x \\x4 {{value}}"', "\\x4 needs 2 hex digits")])
def test_a_short_escape_says_how_many_digits(value: str, escape: str) -> None:
    problems = _problems(HEAD + f"message: {value}\n")
    assert len(problems) == 1 and escape in problems[0] and "must be quoted" not in problems[0], problems


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize("line,hint", [
    ("message: {{value}} ms\n", True),
    ("message: '{{value}}' ms\n", False),
    ('message: "a: {{value}}" ms\n', False),
    ('message: "{{value}}"\n  - x\n', False),
])
def test_the_quoting_hint_only_for_an_unquoted_brace(line: str, hint: bool) -> None:
    problems = _problems(HEAD + line)
    assert ("must be quoted" in problems[0]) is hint, problems
