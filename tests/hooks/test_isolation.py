"""A bad hook costs only itself: not the other hooks, not the other layers' instrumentors, not the start
of the application; it is skipped with one warning on stderr, and `hms-ops hooks check` names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.hooks import HookInstrumentor, load
from hms_otel.hooks.cli import hooks as hooks_command
from tests.hooks import hook_targets as targets

GOOD = "- target: tests.hooks.hook_targets:price\n  record: [{metric: isolation_price_total, kind: counter}]\n"
#: name -> (hook file bytes, fragment of the warning); each is one way a hook cannot be applied.
BAD: dict[str, tuple[bytes, str]] = {
    "undecodable": (b"- target: tests.hooks.hook_targets:price\n  record: [{metric: caf\xe9, kind: counter}]\n",
                    "not UTF-8 text (byte 0xe9)"),
    "slotted_instance_method": (b"- target: tests.hooks.hook_targets:SLOTTED.greet\n"
                                b"  record: [{metric: isolation_greet_total, kind: counter}]\n",
                                "hook the method on its class: tests.hooks.hook_targets:Slotted.greet"),
    "builtin_type_method": (b"- target: builtins:str.upper\n  record: [{metric: isolation_upper_total, kind: "
                            b"counter}]\n", "built-in type whose methods cannot be wrapped"),
    "datetime_method": (b"- target: datetime:datetime.now\n  record: [{metric: isolation_now_total, kind: "
                        b"counter}]\n", "built-in type whose methods cannot be wrapped"),
    "deeply_nested_source": (("- target: tests.hooks.hook_targets:price\n  record: [{metric: isolation_nest, "
                              "kind: histogram, value: '" + "len(" * 500 + "arg.item" + ")" * 500 + "'}]\n"
                              ).encode(), "source is at most 1000 characters"),
    "nested_not": (("- target: tests.hooks.hook_targets:price\n  record: [{metric: isolation_not_total, kind: "
                    "counter, when: '" + "not " * 100 + "arg.item'}]\n").encode(), "nests len(...)/not more than"),
    "exits_at_import": (b"- target: tests.hooks.exits_at_import:anything\n  record: [{metric: isolation_exit_total,"
                        b" kind: counter}]\n", "cannot import module 'tests.hooks.exits_at_import': SystemExit"),
    "deep_yaml": (b"hooks: " + b"[" * 200 + b"]" * 200 + b"\n", "nested more than 64 levels deep"),
}


class _Layer(HookInstrumentor):
    config_env = "ISOLATION_TEST_HOOKS"


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_hook_file_is_skipped_with_a_warning(case: str, tmp_path: Path, monkeypatch, metrics, capsys) -> None:
    content, fragment = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content)
    monkeypatch.setenv("ISOLATION_TEST_HOOKS", str(path))
    layer = _Layer()
    layer.instrument(meter_provider=metrics.provider)  # never raises
    try:
        err = capsys.readouterr().err
    finally:
        layer.uninstrument()
    assert len([line for line in err.splitlines() if line.startswith("hms-otel: warning:")]) == 1, err
    assert fragment in err and f"{path}:" in err, err
    assert "Traceback" not in err
    assert not hasattr(targets.price, "__wrapped__")


def test_good_hooks_of_a_file_apply_next_to_a_bad_one(tmp_path: Path, monkeypatch, metrics, capsys) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes(GOOD.encode() + BAD["builtin_type_method"][0] + BAD["slotted_instance_method"][0])
    monkeypatch.setenv("ISOLATION_TEST_HOOKS", str(path))
    layer = _Layer()
    layer.instrument(meter_provider=metrics.provider)
    try:
        assert layer.instrumented_targets == ["tests.hooks.hook_targets:price"]
        targets.price("tea")
        assert metrics.points("isolation_price_total")[frozenset()].value == 1
        err = capsys.readouterr().err
        assert err.count("hms-otel: warning:") == 2
        assert targets.SLOTTED.greet() == "hello desk" and "a".upper() == "A"
    finally:
        layer.uninstrument()


@pytest.mark.parametrize("case", sorted(BAD))
def test_hooks_check_reports_without_traceback(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(BAD[case][0])
    result = CliRunner().invoke(hooks_command, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{path}:" in result.output
    assert BAD[case][1] in result.output


def test_every_layer_loads_independently_under_opentelemetry_instrument(tmp_path: Path) -> None:
    """Each layer package gets a different bad hook file; the generic hooks still apply and the app runs."""
    bad_cases = ["undecodable", "exits_at_import", "builtin_type_method", "deeply_nested_source",
                 "slotted_instance_method"]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "HMS_"))}
    for variable, case in zip(["HMS_ACH_HOOKS", "HMS_SVC_HOOKS", "HMS_A2A_HOOKS", "HMS_ACT_HOOKS", "HMS_ESQ_HOOKS"],
                              bad_cases, strict=True):
        (tmp_path / f"{case}.yaml").write_bytes(BAD[case][0])
        env[variable] = str(tmp_path / f"{case}.yaml")
    (tmp_path / "good.yaml").write_text(GOOD)
    env.update(HMS_OTEL_HOOKS=str(tmp_path / "good.yaml"), OTEL_METRICS_EXPORTER="none",
               OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
               PYTHONPATH=str(Path(__file__).parents[2]))
    probe = ("from tests.hooks import hook_targets as t; print('wrapped', hasattr(t.price, '__wrapped__')); "
             "print('app ran')")
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    done = subprocess.run([str(instrument), sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "wrapped True" in done.stdout and "app ran" in done.stdout, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    for case in bad_cases:
        assert BAD[case][1] in done.stderr, (case, done.stderr)


def test_load_never_raises_anything_but_located_problems() -> None:
    from hms_otel.hooks.spec import HookFileInvalid

    for content, _fragment in BAD.values():
        try:
            load(content, "x.yaml")
        except HookFileInvalid as error:
            assert all(str(problem).startswith("x.yaml:") for problem in error.problems)


def test_one_bad_file_among_several_costs_only_itself(tmp_path: Path, monkeypatch, metrics, capsys) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_bytes(BAD["undecodable"][0])
    monkeypatch.setenv("ISOLATION_TEST_HOOKS", os.pathsep.join([str(bad), str(good)]))
    layer = _Layer()
    layer.instrument(meter_provider=metrics.provider)
    try:
        assert layer.instrumented_targets == ["tests.hooks.hook_targets:price"]
        err = capsys.readouterr().err
        assert err.count("hms-otel: warning:") == 1 and f"hook file {bad} skipped" in err, err
        assert "(named by $ISOLATION_TEST_HOOKS)" in err
    finally:
        layer.uninstrument()
