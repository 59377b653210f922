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
        ("OTEL_METRICS_EXPORTER", "otlp,none", "otlp"),  # upstream takes only a lone "none" as none
        # Over the maximum: clamped. Threading waits and gRPC deadlines overflow past about 9.2e9 s.
        ("HMS_OTEL_SHUTDOWN_TIMEOUT", "1e15", "86400"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1e12", "86400"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1e300", "86400000"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "99999999999999999999", "86400000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1e3", "5000"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "100000000000000000000", "2147483647"),
        # Under the minimum: clamped. A 0.001 ms interval timed collections out, with a traceback, and
        # took a quarter of the app's time; 1 ms delays wake the log and span workers a thousand times a second.
        ("OTEL_METRIC_EXPORT_INTERVAL", "0.001", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "99.9", "100"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "1", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "99", "100"),
        # Upstream compares the names exactly: a misspelt layer stayed on without a word.
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "hms-ach", "hms_ach"),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "HMS_ACH, hms_instrumentation_svc", "hms_ach,hms_svc"),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "hms_ach,hms_nope,requests", "hms_ach,requests"),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "hms_nope", None),
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
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),  # the minimum itself
        ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
        ("HMS_OTEL_SHUTDOWN_TIMEOUT", "0"),
        ("HMS_OTEL_SHUTDOWN_TIMEOUT", "86400"),
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "hms_ach, hms_svc"),
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "*"),
        # Not installed here, maybe in another service sharing the setting: left alone, silently.
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests,flask"),
    ],
)
def test_valid_values_are_left_alone(name: str, value: str) -> None:
    env = {name: value}
    assert envcheck.repair_environment({}, env) == []
    assert env == {name: value}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "HTTP/PROTOBUF", "http/protobuf"),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "ALWAYS_OFF", "always_off"),
        ("OTEL_EXPORTER_OTLP_INSECURE", " TRUE ", "true"),
        ("OTEL_SDK_DISABLED", "TRUE", "true"),
    ],
)
def test_an_accepted_spelling_is_written_back_as_upstream_reads_it(
    name: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upstream compares these exactly (``GRPC`` failed its configurator) or does not strip them (TLS against
    a plain-text collector): it must read the spelling envcheck accepted."""
    env = {name: value}
    assert envcheck.repair_environment({}, env) == []
    assert env == {name: expected}
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("queue", "batch", "expected"), [("100", "2048", "100"), ("16384", "20000", "16384")])
def test_a_log_batch_larger_than_the_queue_is_cut_to_it_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], queue: str, batch: str, expected: str
) -> None:
    """The SDK's BatchLogRecordProcessor refused the pair in the configurator: no logs, no HMS safeguards."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter

    env = {"OTEL_BLRP_MAX_QUEUE_SIZE": queue, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": batch}
    assert envcheck.repair_environment({}, env) == ["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"]
    assert env["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"] == expected
    _set(monkeypatch, env)
    BatchLogRecordProcessor(InMemoryLogRecordExporter()).shutdown()  # the SDK takes the pair now
    err = capsys.readouterr().err
    assert f"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE={batch!r} is more than OTEL_BLRP_MAX_QUEUE_SIZE={queue}" in err


def test_a_span_queue_smaller_than_the_sdk_batch_cuts_the_unset_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With traces on, OTEL_BSP_MAX_QUEUE_SIZE under the SDK's 512-span batch failed the same way."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    env = {"OTEL_BSP_MAX_QUEUE_SIZE": "100"}
    assert envcheck.repair_environment({}, env) == ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"]
    assert env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] == "100"
    _set(monkeypatch, env)
    BatchSpanProcessor(InMemorySpanExporter()).shutdown()
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE (unset, so the SDK's 512) is more than" in capsys.readouterr().err


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """``env`` in the process environment for the SDK to read (repaired apart: the test process's own stays)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


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


@pytest.mark.parametrize("timeout", [1e15, float("inf"), float("nan")])
def test_a_shutdown_timeout_given_in_code_is_bounded_too(timeout: float) -> None:
    """``OPSAgent(shutdown_timeout=1e15)`` is not an environment value: flush() and stop() raised OverflowError."""
    assert sdk._bounded(lambda: True, timeout) is True
