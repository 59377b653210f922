"""Issue 13 class 8 in-process: which values are repaired, and that the distro's own defaults pass."""

from __future__ import annotations

import io
import sys

import pytest

from hms_otel import envcheck, sdk


def test_the_distro_defaults_are_all_valid(capsys: pytest.CaptureFixture[str]) -> None:
    env = {**sdk.DEFAULT_ENV, **{k: v for k, v in sdk.HMS_ENV.items() if v}}
    assert envcheck.repair_environment({}, env) == []
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OTEL_METRIC_EXPORT_INTERVAL", "0", "5000"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "foo", "grpc"),
        ("HMS_OTEL_SHUTDOWN_TIMEOUT", "nan", "2"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "not a url", None),  # falls back to the general endpoint
        ("OTEL_METRICS_EXPORTER", "otlp,nope", "otlp"),
    ],
)
def test_an_invalid_value_is_replaced_with_one_warning(
    name: str, value: str, expected: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {name: value}
    defaults = {**sdk.HMS_ENV, **sdk.DEFAULT_ENV}
    assert envcheck.repair_environment(defaults, env) == [name]
    assert env.get(name) == expected
    envcheck.repair_environment(defaults, {name: value})  # the same bad value again: no second warning
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"hms_otel: warning: {name}={value!r}")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "console,otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.hms.gov:4317"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5"),
        ("HMS_OTEL_SHUTDOWN_TIMEOUT", "0"),
        ("OTEL_SDK_DISABLED", "TRUE"),
    ],
)
def test_valid_values_are_left_alone(name: str, value: str) -> None:
    env = {name: value}
    assert envcheck.repair_environment({}, env) == []
    assert env == {name: value}


def test_an_empty_value_counts_as_unset() -> None:
    env = {"OTEL_METRIC_EXPORT_INTERVAL": " "}
    envcheck.repair_environment({"OTEL_METRIC_EXPORT_INTERVAL": "5000"}, env)
    assert env == {"OTEL_METRIC_EXPORT_INTERVAL": "5000"}


@pytest.mark.parametrize("stderr", ["none", "closed"])
def test_a_warning_with_no_stderr_changes_nothing_else(monkeypatch: pytest.MonkeyPatch, stderr: str) -> None:
    """A daemon started with ``2>&-`` has ``sys.stderr`` None: the warning raised, and OPSAgent.start() with it."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", None if stderr == "none" else closed)
    monkeypatch.setattr(envcheck, "_warned", set())
    env = {"OTEL_METRIC_EXPORT_INTERVAL": "0"}
    assert envcheck.repair_environment({"OTEL_METRIC_EXPORT_INTERVAL": "5000"}, env) == ["OTEL_METRIC_EXPORT_INTERVAL"]
    assert env == {"OTEL_METRIC_EXPORT_INTERVAL": "5000"}
