"""The hostile corpus: every input gives a located error or exactly the intended meaning, and nothing raises.

Run per file type from one table (``runner.CHECKERS`` and the ``*_cases`` modules); the
malformed alert files in ``tests/alerts/malformed`` are part of it too. Time is not asserted
here (tests never assert wall-clock time): ``benchmarks/bench_file_checks.py`` measures it.
"""

from __future__ import annotations

import pytest

from . import alert_cases, dashboard_cases, hook_cases
from .runner import CHECKERS, Case, Error, Means

CASES: list[Case] = [*alert_cases.CASES, *hook_cases.CASES, *dashboard_cases.CASES]


def test_corpus_size_and_unique_names() -> None:
    from tests.alerts.test_malformed import EXPECTED

    assert len(CASES) + len(EXPECTED) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("item", CASES, ids=lambda item: item.id)
def test_case(item: Case) -> None:
    outcome = CHECKERS[item.kind](item.content, f"{item.name}.yml")  # must not raise
    expect = item.expect
    if isinstance(expect, Means):
        assert not outcome.problems, [str(p) for p in outcome.problems]
        assert expect.check(outcome.value), expect.what
        return
    assert isinstance(expect, Error)
    assert outcome.problems, f"expected an error on line {expect.line}: {expect.fragment}"
    first = outcome.problems[0]
    assert first.location.path == f"{item.name}.yml", str(first)
    assert first.location.line == expect.line, str(first)
    if expect.column is not None:
        assert first.location.column == expect.column, str(first)
    assert expect.fragment in first.message, str(first)
    assert len(str(first)) < 2000, "a message must not repeat a huge value"
    lines = [p.location for p in outcome.problems]
    assert lines == sorted(lines), "problems are sorted by position"


@pytest.mark.parametrize("name", sorted(alert_cases.MULTI_PROBLEM))
def test_every_problem_of_a_file_is_reported_in_line_order(name: str) -> None:
    (item,) = [c for c in alert_cases.CASES if c.name == name]
    outcome = CHECKERS["alert"](item.content, f"{name}.yml")
    assert [p.location.line for p in outcome.problems] == alert_cases.MULTI_PROBLEM[name], [
        str(p) for p in outcome.problems]
