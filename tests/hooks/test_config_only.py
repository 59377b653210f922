"""Instrumenting a function named only in configuration (HMS_OTEL_HOOKS), and checking hook files."""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.hooks import HooksInstrumentor
from hms_otel.hooks.cli import hooks as hooks_command
from hms_otel.registry import REGISTRY, Kind
from tests.hooks import hook_targets as targets

TEAM_FILE = """\
# A team's own callables, no code change:
hooks:
  - target: tests.hooks.hook_targets:price
    record:
      - metric: {name}_ms
        kind: timer
        attributes: {{item: arg.item, outcome: outcome}}
      - metric: {name}_amount
        kind: histogram
        unit: USD
        value: return
        on: return
  - target: tests.hooks.hook_targets:Desk.handle
    record:
      - metric: {name}_requests_total
        kind: counter
        attributes: {{desk: arg.self.name, kind: arg.request.kind, channel: const:counter}}
"""


@pytest.fixture
def instrumentor():
    instrumentor = HooksInstrumentor()
    yield instrumentor
    instrumentor.uninstrument()


def test_functions_named_only_in_configuration(tmp_path, monkeypatch, metrics, name, instrumentor) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM_FILE.format(name=name))
    monkeypatch.setenv("HMS_OTEL_HOOKS", str(path))
    original_price, original_handle = targets.price, targets.Desk.__dict__["handle"]

    instrumentor.instrument(meter_provider=metrics.provider)
    assert instrumentor.instrumented_targets == [
        "tests.hooks.hook_targets:price",
        "tests.hooks.hook_targets:Desk.handle",
    ]
    assert targets.price("pen", 4) == 10.0
    assert targets.Desk("front").handle({"kind": "renew"}) == "front:renew"

    assert metrics.points(f"{name}_ms")[frozenset({("item", "pen"), ("outcome", "ok")})].count == 1
    amount = metrics.points(f"{name}_amount")[frozenset()]
    assert (amount.count, amount.sum) == (1, 10.0)
    counted = metrics.points(f"{name}_requests_total")
    assert counted[frozenset({("desk", "front"), ("kind", "renew"), ("channel", "counter")})].value == 1
    # New names enter the one registry with the kind the spec implies.
    assert (REGISTRY[f"{name}_ms"].kind, REGISTRY[f"{name}_ms"].unit) == (Kind.HISTOGRAM, "ms")
    assert (REGISTRY[f"{name}_amount"].kind, REGISTRY[f"{name}_amount"].unit) == (Kind.HISTOGRAM, "USD")
    assert REGISTRY[f"{name}_requests_total"].attributes == ("desk", "kind", "channel")

    instrumentor.uninstrument()
    assert targets.price is original_price
    assert targets.Desk.__dict__["handle"] is original_handle


def test_a_bad_hook_is_skipped_with_one_warning_on_stderr_and_the_others_apply(
    tmp_path, monkeypatch, metrics, capsys, instrumentor
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM_FILE.format(name="x").replace("arg.request.kind", "arg.requets.kind"))
    monkeypatch.setenv("HMS_OTEL_HOOKS", str(path))
    instrumentor.instrument(meter_provider=metrics.provider)
    assert instrumentor.instrumented_targets == ["tests.hooks.hook_targets:price"]
    assert not hasattr(targets.Desk.__dict__["handle"], "__wrapped__")
    (message,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("hms-otel: warning:")]
    assert f"{path}:15: hook tests.hooks.hook_targets:Desk.handle: metric 'x_requests_total' (counter): " in message
    assert "has no parameter 'requets' (parameters: self, request, extra, options)" in message
    instrumentor.uninstrument()


def test_check_command(tmp_path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(TEAM_FILE.format(name="checked"))
    bad.write_text(TEAM_FILE.format(name="checked").replace("kind: timer", "kind: stopwatch"))
    runner = CliRunner()
    result = runner.invoke(hooks_command, ["check", str(good)])
    assert (result.exit_code, result.output) == (0, f"{good}: ok, 2 hooks, 3 records\n")
    result = runner.invoke(hooks_command, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:6:15: hooks[0].record[0].kind: 'stopwatch' is not one of" in result.output
    assert "Traceback" not in result.output
    assert not hasattr(targets.price, "__wrapped__")


def test_opentelemetry_instrument_loads_configured_hooks(tmp_path) -> None:
    from hms_otel.hooks.testing import wrapped_under_auto_instrumentation

    path = tmp_path / "team.yaml"
    path.write_text(TEAM_FILE.format(name="auto"))
    paths = [str(Path(__file__).parents[2])]  # the repository root, for tests.hooks.hook_targets
    if not any(ep.name == "hms_hooks" for ep in entry_points(group="opentelemetry_instrumentor")):
        # Until hms-otel's pyproject registers the entry point, a throwaway
        # distribution on PYTHONPATH does, so the loading path is still the real one.
        info = tmp_path / "site" / "hms_hooks_shim-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hms-hooks-shim\nVersion: 0\n")
        (info / "entry_points.txt").write_text(
            "[opentelemetry_instrumentor]\nhms_hooks = hms_otel.hooks:HooksInstrumentor\n"
        )
        paths.append(str(tmp_path / "site"))
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    target = "tests.hooks.hook_targets:price"
    assert wrapped_under_auto_instrumentation([target], HMS_OTEL_HOOKS=str(path), **env) == {target: True}
    assert wrapped_under_auto_instrumentation([target], **env) == {target: False}
