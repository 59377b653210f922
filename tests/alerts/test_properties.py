"""Property tests: no input makes the parser (or the compiler behind it) raise."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_otel.alerts import spec
from hms_otel.alerts.compiler import compile_files
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.syntax import AGGREGATIONS, OPERATORS
from hms_otel.errors import Problem

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_never_raises(data: bytes | str) -> None:
    parsed, problems = spec.load_bytes(data, "fuzz.yml")
    assert (parsed is None) == bool(problems)
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.location.line >= 1 and problem.location.column >= 1
        assert str(problem).startswith("fuzz.yml:")
    if parsed is not None:
        result = compile_files([parsed], Settings())
        assert result.rules_yaml and result.alertmanager_yaml


@_SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _parse_never_raises(data)


@_SETTINGS
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _parse_never_raises(text)


_metric = st.sampled_from(["payment_latency_ms", "job_fail_total", "activities_pending", "ach_flagged_total",
                           "nope", "", "9x", "a2a_transfer_ms"])
_when = st.builds(
    lambda agg, window, op, number: f"{agg}_over_{window} {op} {number}",
    st.sampled_from([*AGGREGATIONS, "median", ""]),
    st.sampled_from(["30s", "5m", "1h30m", "0s", "x", "", "500ms", "1d"]),
    st.sampled_from([*OPERATORS, "=>", "="]),
    st.one_of(st.integers(-10, 10_000).map(str), st.sampled_from(["nan", "inf", "1e400", "x", "1_000"])),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    _when, _metric, st.sampled_from(["sms:+15551234", "slack:#ops", "teams:ops", "pager:x",
                                                     "{{ .Labels }}", "{{value}}", "webhook:http://h.example/"]))
_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
_field = st.sampled_from([*spec.ALERT_FIELDS, *spec.SLO_FIELDS, "below", "total", "bogus"])
_alert = st.dictionaries(_field, _value, max_size=8)


@_SETTINGS
@given(st.one_of(_alert, st.lists(_alert, max_size=3), _value))
def test_random_yaml_documents(document: object) -> None:
    _parse_never_raises(yaml.safe_dump(document, allow_unicode=True))


@_SETTINGS
@given(st.fixed_dictionaries({"metric": _metric, "when": _when,
                              "action": st.sampled_from(["sms:+15551234", "slack:#ops", ["email:a@b.gov"]])},
                             optional={"for": st.sampled_from(["1m", "0s", 300, "x"]),
                                       "message": st.text(max_size=40),
                                       "labels": st.dictionaries(st.text(max_size=6), st.text(max_size=6),
                                                                 max_size=2)}))
def test_almost_valid_alerts(document: dict[str, object]) -> None:
    _parse_never_raises(yaml.safe_dump(document, allow_unicode=True))


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    _parse_never_raises("[" * 5000 + "]" * 5000)
    _parse_never_raises("a: " * 3000 + "b")


# ---- the one YAML reader (hms_otel.yamlfile), shared by alert, SLO, hook and dashboard files ----

from hms_otel import yamlfile  # noqa: E402
from hms_otel.errors import ProblemsError  # noqa: E402


def _read_never_raises(data: bytes | str) -> None:
    try:
        root = yamlfile.read_bytes(data, "fuzz.yml")
        if root is not None:
            yamlfile.plain_data(root)
    except ProblemsError as error:
        assert error.problems
        locations = [problem.location for problem in error.problems]
        assert locations == sorted(locations)
        # YAML also breaks lines at a lone \r (and \x85, \u2028, \u2029), as splitlines does.
        lines = len((data if isinstance(data, str) else data.decode("utf-8", "replace")).splitlines()) + 2
        assert all(1 <= location.line <= lines and location.column >= 1 for location in locations)
    except yamlfile.NodeError as error:
        assert error.location.line >= 1


@_SETTINGS
@given(st.binary(max_size=400))
def test_reader_random_bytes(data: bytes) -> None:
    _read_never_raises(data)


@_SETTINGS
@given(st.text(max_size=400))
def test_reader_random_text(text: str) -> None:
    _read_never_raises(text)


def _written_as_text(text: str) -> bool:
    """PyYAML quotes strings YAML 1.1 would coerce, but writes "1e5" or "0o17" plain: YAML 1.2 reads numbers."""
    return yaml.safe_dump(text, allow_unicode=True).startswith(("'", '"')) or yamlfile.core_value(text) == text


# Scalars every YAML reader writes and reads the same way.
_exact = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                   st.text(max_size=20).filter(_written_as_text),
                   st.floats(allow_nan=False, allow_infinity=False).filter(lambda value: not value.is_integer()))
_plain = st.recursive(_exact, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


@_SETTINGS
@given(_plain)
def test_reader_reads_back_exactly_what_was_written(data: object) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        root = yamlfile.read_bytes(text, "dumped.yml")
    except ProblemsError as error:  # only characters YAML does not allow in a file may be refused
        assert all("not allowed" in problem.message for problem in error.problems), error
        return
    assert root is not None
    assert yamlfile.plain_data(root) == data


@_SETTINGS
@given(st.sampled_from(["010", "0o17", "0x1F", "1:30", "1_000", "1.10", "yes", "no", "on", "off", "y", "n",
                        "2024-01-01", "+5", "1.0", ".inf", ".nan", "~", "null", "True"]))
def test_text_fields_keep_yaml11_spellings_as_written(written: str) -> None:
    root = yamlfile.read_bytes(f"value: {written}\n", "x.yml")
    assert isinstance(root, yamlfile.MapNode)
    node = root.get("value")
    assert isinstance(node, yamlfile.Scalar) and node.text == written
    if not node.is_null:
        assert yamlfile.text(node, "value") == written


@_SETTINGS
@given(st.one_of(st.text(max_size=200), _when, st.builds(lambda a, b: a + b, _when, st.text(max_size=20))))
def test_when_parser_returns_a_condition_or_a_located_problem(text: str) -> None:
    from hms_otel.alerts.syntax import SyntaxProblem, parse_when

    try:
        condition = parse_when(text)
    except SyntaxProblem as problem:
        assert 0 <= problem.offset <= len(text)
        assert len(problem.message) < 400
    else:
        assert condition.window.ms > 0 and condition.op in OPERATORS


# ---- generated promtool tests hold for every comparison, against the real promtool ------------------

import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from hms_otel.alerts.compiler import dump_yaml  # noqa: E402
from hms_otel.alerts.promtool_tests import plan  # noqa: E402
from hms_otel.alerts.tools import find_tool  # noqa: E402

_needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (Debian prometheus)")
#: Every aggregation each kind allows, with the series it reads.
_KIND_AGGREGATIONS = (("counter", "m_total", ("rate", "increase", "last")),
                      ("gauge", "m_level", ("avg", "min", "max", "sum", "last", "p50", "p90", "p99")),
                      ("histogram", "m_ms", ("avg", "rate", "increase", "count", "sum", "p50", "p95", "p99")))
_CASES = [(kind, metric, aggregation) for kind, metric, aggregations in _KIND_AGGREGATIONS
          for aggregation in aggregations]


def _promtool_failures(alerts: list[tuple[str, str, str, str, str, str]]) -> tuple[list[str], int]:
    """Generated tests of each (kind, metric, aggregation, op, threshold, window) alert that promtool fails,
    and how many alerts could fire (the rest can never fire, or always fire, and are errors at check)."""
    failures = []
    with tempfile.TemporaryDirectory() as directory:
        names = []
        for index, (kind, metric, aggregation, op, threshold, window) in enumerate(alerts):
            text = (f"name: a\nmetric: {metric}\ntype: {kind}\nwhen: '{aggregation}_over_{window} {op} {threshold}'\n"
                    "for: 1m\naction: slack:#ops\n")
            parsed, problems = spec.load_bytes(text, f"a{index}.yml")
            if parsed is None:
                assert all("can never fire" in problem.message or "always fires" in problem.message
                           for problem in problems), (text, problems)
                continue
            test_plan = plan(parsed)
            assert not test_plan.skipped, (text, test_plan.skipped)
            (Path(directory) / f"rules{index}.yml").write_text(compile_files([parsed], Settings()).rules_yaml)
            for data in test_plan.files.values():
                (Path(directory) / f"t{index}.yml").write_text(dump_yaml({**data, "rule_files": [f"rules{index}.yml"]}))
                names.append(f"t{index}.yml")
        if names:
            run = subprocess.run([find_tool("promtool"), "test", "rules", *names], cwd=directory,
                                 capture_output=True, text=True, timeout=300, check=False)
            failures = [f"{alerts[int(name[1:-4])]}: {run.stdout.split(name)[1][:500]}" for name in names
                        if f"Unit Testing:  {name}\n  FAILED" in run.stdout]
            assert failures or run.returncode == 0, run.stdout + run.stderr
    return failures, len(names)


@_needs_promtool
@pytest.mark.parametrize("threshold", ["0", "0.333333", "2000", "2.5", "1e-5", "-2.5", "-0.0"])
def test_generated_tests_pass_for_every_comparison_of_every_aggregation(threshold: str) -> None:
    """rate_over_5m == 0.333333 failed (the value landed near it, not on it), increase_over_5m <= 0 had no test,
    sum_over_7s <= -0.0 expected the message to show "-0" where Prometheus shows 0."""
    failures, tested = _promtool_failures([(kind, metric, aggregation, op, threshold, "5m")
                                           for kind, metric, aggregation in _CASES for op in OPERATORS])
    assert failures == []
    assert tested >= len(_CASES) * 2


_thresholds = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False).map(repr),
    st.builds(lambda digits, places: f"{digits / 10**places:.{places}f}", st.integers(0, 10**7), st.integers(0, 7)),
)


@_needs_promtool
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_CASES), st.sampled_from(OPERATORS), _thresholds,
                          st.sampled_from(["30s", "5m", "1500ms", "7s", "1h"])), min_size=30, max_size=30))
def test_generated_tests_pass_for_random_thresholds(alerts: list[tuple[tuple[str, str, str], str, str, str]]
                                                    ) -> None:
    failures, _tested = _promtool_failures([(*case, op, threshold, window) for case, op, threshold, window in alerts])
    assert failures == []
