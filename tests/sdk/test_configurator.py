"""HmsConfigurator is upstream's configurator plus HMS additions: upstream options
behave as upstream documents (subprocesses, like a user runs them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hms_otel import __version__, _sdk_internals
from hms_otel.distro import HmsConfigurator

from ..support import APPS, instrumented_argv, instrumented_env

APP = "configured_app.py"


def run(env: dict[str, str], *args: str, instrumented: bool = True) -> subprocess.CompletedProcess[str]:
    argv = instrumented_argv(APP, args) if instrumented else [sys.executable, str(APPS / APP), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def report(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"tracer_provider"')))


def env(**extra: str) -> dict[str, str]:
    # A closed port: nothing here waits for a collector.
    return instrumented_env("http://127.0.0.1:1", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none", **extra)


def test_configurator_extends_upstreams() -> None:
    assert issubclass(HmsConfigurator, _sdk_internals.SdkConfigurator)


def test_private_sdk_details_hms_relies_on_are_still_there() -> None:
    # Fails when an SDK upgrade moves one of them; the message names which.
    assert _sdk_internals.missing() == []


def test_console_traces_print_the_apps_span() -> None:
    done = run(env(OTEL_TRACES_EXPORTER="console"))
    result = report(done)
    assert result["tracer_provider"] == "TracerProvider"
    assert '"name": "checkout"' in done.stdout  # the console exporter printed the span


def test_resource_has_distro_auto_version_and_hms_defaults() -> None:
    resource = report(run(env(HMS_LAYER="ACH")))["resource"]
    assert resource["telemetry.distro.name"] == "hms-otel"
    assert resource["telemetry.distro.version"] == __version__
    assert resource["telemetry.auto.version"]  # set by opentelemetry-instrument through upstream
    assert resource["service.name"] == "configured_app"
    assert resource["hms.layer"] == "ACH"
    assert resource["service.instance.id"]


def test_environment_wins_over_hms_resource_defaults() -> None:
    resource = report(
        run(env(OTEL_SERVICE_NAME="renewals", OTEL_RESOURCE_ATTRIBUTES="telemetry.distro.name=custom,team=x"))
    )["resource"]
    assert resource["service.name"] == "renewals"
    assert (resource["telemetry.distro.name"], resource["team"]) == ("custom", "x")


def test_sampler_from_the_environment() -> None:
    result = report(run(env(OTEL_TRACES_SAMPLER="always_off")))
    assert (result["sampler"], result["sampled"]) == ("_AlwaysOff", False)
    result = report(run(env(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="1.0")))
    assert (result["sampler"], result["sampled"]) == ("TraceIdRatioBased", True)


def test_id_generator_from_the_environment() -> None:
    assert report(run(env(OTEL_PYTHON_ID_GENERATOR="random")))["id_generator"] == "RandomIdGenerator"
    # An unknown one is refused by upstream's configurator: it is read, not ignored.
    done = run(env(OTEL_PYTHON_ID_GENERATOR="no-such-generator"))
    assert "no-such-generator" in done.stderr


def test_otel_config_file_goes_to_upstreams_declarative_configuration(tmp_path: Path) -> None:
    # SDK 1.45 hands OTEL_CONFIG_FILE to the optional opentelemetry-configuration
    # package. A stand-in of that package records what it was given.
    package = tmp_path / "opentelemetry" / "configuration"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "def load_config_file(path):\n"
        "    return {'loaded': path}\n"
        "def configure_sdk(config):\n"
        "    print('declarative configuration:', config['loaded'], flush=True)\n"
    )
    config = tmp_path / "otel.yaml"
    config.write_text("file_format: '1.0'\n")
    done = run(env(OTEL_CONFIG_FILE=str(config), PYTHONPATH=str(tmp_path)))
    assert f"declarative configuration: {config}" in done.stdout, done.stderr
    # Without the package, upstream says what to install.
    done = run(env(OTEL_CONFIG_FILE=str(config)))
    assert "opentelemetry-configuration" in done.stderr


def test_ops_agent_sets_up_the_same_pipeline_without_opentelemetry_instrument() -> None:
    done = run(env(OTEL_TRACES_EXPORTER="console"), "agent", instrumented=False)
    result = report(done)
    assert (result["tracer_provider"], result["meter_provider"], result["logger_provider"]) == (
        "TracerProvider",
        "MeterProvider",
        "LoggerProvider",
    )
    assert result["hms_adopted"] is True
    assert result["resource"]["telemetry.distro.name"] == "hms-otel"
    assert "telemetry.auto.version" not in result["resource"]  # no opentelemetry-instrument here
    assert '"name": "checkout"' in done.stdout
