"""Issue 13 classes 1, 2 and 8 against the real collector and Prometheus.

Logs are checked at the collector: this module's stack adds a ``debug`` exporter with detailed verbosity to
the logs pipeline of collector-config/local.yaml, so every record the collector accepted is in its log.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from hms_otel.stack import LocalStack, MissingBinary, ProcessError
from hms_otel.stack.services import collector_config_path

from ..conftest import app_env
from ..support import eventually, instrumented_argv, log_pipeline_report

pytestmark = pytest.mark.e2e


def _config_with_debug_logs(path: Path) -> Path:
    config = yaml.safe_load(collector_config_path("local").read_text())
    config["exporters"]["debug/logs"] = {"verbosity": "detailed"}
    config["service"]["pipelines"]["logs"]["exporters"].append("debug/logs")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def log_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("faults")
    stack = LocalStack(
        workdir / "stack", collector_config=_config_with_debug_logs(workdir / "collector.yaml"), with_victorialogs=False
    )
    try:
        stack.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


def _bodies(stack: LocalStack, pattern: str) -> set[str]:
    """Log bodies matching ``pattern`` the collector received (debug exporter output)."""
    text = stack.collector.log_path.read_text(errors="replace")
    return set(re.findall(rf"Body: Str\(({pattern})\)", text))


# -- class 1: one bad value never stops export ---------------------------------------------------------


def test_an_oversized_attribute_then_normal_increments_all_arrive(log_stack: LocalStack, run_app) -> None:
    run_app(log_stack, "oversized_attribute", service_name="oversized")
    assert log_stack.wait_for('sum(refund_pdf_total{job="oversized",kind="normal"})', lambda v: v == 200) == 200
    # The oversized set itself arrives too, cut to the attribute value limit.
    assert log_stack.wait_for('sum(refund_pdf_total{job="oversized",kind="huge"})', lambda v: v == 1) == 1


def test_80k_series_from_one_process_all_arrive(log_stack: LocalStack, run_app) -> None:
    run_app(log_stack, "many_series", service_name="many-series", timeout=300, HMS_OTEL_SHUTDOWN_TIMEOUT="30")
    query = 'count({__name__=~"series_[0-9]+_total",job="many-series"})'
    assert log_stack.wait_for(query, lambda v: v == 80_000, timeout=180) == 80_000


def test_a_10mb_log_among_100_good_records_lets_the_100_through(log_stack: LocalStack, run_app) -> None:
    run_app(log_stack, "huge_log", service_name="huge-log", HMS_OTEL_SHUTDOWN_TIMEOUT="10")
    expected = {f"good-{i}" for i in range(100)}
    eventually(lambda: _bodies(log_stack, r"good-\d+") >= expected, 60, "the 100 good log records")
    cut = _bodies(log_stack, r"y{100}[^)]*")
    assert cut and all(len(body) <= 64 * 1024 for body in cut)


def test_log_records_the_encoder_cannot_write_hold_up_nothing(log_stack: LocalStack, run_app) -> None:
    done = run_app(log_stack, "unwritable_logs", service_name="unwritable-logs")
    expected = {f"good-{i}" for i in range(20)}
    eventually(lambda: _bodies(log_stack, r"good-\d+") >= expected, 60, "the 20 good log records")
    # The undecodable byte is shown as its escape, the rest of the record kept; the huge int as its digits.
    assert _bodies(log_stack, r"opened [^)]*") == {"opened file-\\udcff.txt"}
    assert _bodies(log_stack, str(2**70)) == {str(2**70)}
    # A scope name no request can carry: that record alone is dropped, and counted.
    assert "'unexportable': 1" in done.stderr


# -- class 2: SIGTERM ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "status"), [("default", -signal.SIGTERM), ("app-handler", 0)])
def test_sigterm_delivers_every_increment_and_log(log_stack: LocalStack, start_app, mode: str, status: int) -> None:
    count, job = 300, f"sigterm-{mode}"
    # Intervals far longer than the test: only the SIGTERM flush can deliver anything.
    app = start_app(
        log_stack,
        "sigterm_app",
        count,
        mode,
        service_name=job,
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BLRP_SCHEDULE_DELAY="600000",
        HMS_OTEL_SHUTDOWN_TIMEOUT="10",
    )
    assert app.stdout is not None
    assert app.stdout.readline().strip() == "ready"
    app.send_signal(signal.SIGTERM)
    out, err = app.communicate(timeout=60)
    assert app.returncode == status, err
    if mode == "app-handler":
        assert "app handler ran" in out
    assert log_stack.wait_for(f'sum(refund_pdf_total{{job="{job}"}})', lambda v: v == count) == count
    expected = {f"sigterm-log-{i}" for i in range(count)}
    eventually(lambda: _bodies(log_stack, r"sigterm-log-\d+") >= expected, 60, f"{count} logs of {job}")


# -- class 8: invalid environment values -------------------------------------------------------------------

INVALID_VALUES = [
    ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "-5"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "abc"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "nan"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "abc"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "inf"),
    ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "foo"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc2"),
    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "not a url"),
    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:99999"),
    ("OTEL_EXPORTER_OTLP_INSECURE", "maybe"),
    ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "2"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd7"),
    ("OTEL_METRICS_EXPORTER", "otlp,nope"),
    ("OTEL_METRICS_EXPORTER", "prometheus-missing"),
    ("OTEL_LOGS_EXPORTER", "foo"),
    ("OTEL_TRACES_EXPORTER", "jaeger"),
    ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sometimes"),
    ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "linear"),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "everything"),
    ("OTEL_SDK_DISABLED", "perhaps"),
    ("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "yes please"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "soon"),
    ("OTEL_BLRP_MAX_QUEUE_SIZE", "0"),
    ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "-3"),
    ("OTEL_BLRP_EXPORT_TIMEOUT", "1.5.2"),
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "lots"),
    ("HMS_OTEL_SHUTDOWN_TIMEOUT", "nan"),
    ("HMS_OTEL_SHUTDOWN_TIMEOUT", "-2"),
    ("HMS_OTEL_LOG_BODY_LENGTH_LIMIT", "big"),
    ("HMS_OTEL_MAX_REQUEST_BYTES", "0"),
    ("HMS_OTEL_MAX_METRIC_NAMES", "many"),
    ("HMS_OTEL_MAX_REMEMBERED_FAILURES", "\x1b[2Jx"),
]


def test_every_invalid_environment_value_warns_once_and_telemetry_stays_on(log_stack: LocalStack) -> None:
    def run(case: tuple[int, tuple[str, str]]) -> tuple[str, str, subprocess.CompletedProcess[str]]:
        index, (name, value) = case
        job = f"envcheck-{index}"
        env = app_env(log_stack, job, **{name: value})
        done = subprocess.run(instrumented_argv("env_app"), env=env, capture_output=True, text=True, timeout=120)
        return job, name, done

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, enumerate(INVALID_VALUES)))

    for (_job, name, done), (_, value) in zip(results, INVALID_VALUES, strict=True):
        assert done.returncode == 0, f"{name}={value!r}: {done.stderr}"
        warnings = [line for line in done.stderr.splitlines() if line.startswith(f"hms_otel: warning: {name}=")]
        assert len(warnings) == 1, f"{name}={value!r}: {done.stderr}"
        assert repr(value) in warnings[0] and ("instead" in warnings[0] or "ignoring it" in warnings[0])
        assert "\x1b" not in done.stderr
    jobs = {job for job, _, _ in results}

    missing = dict.fromkeys(jobs)

    def arrived() -> bool:
        for series in log_stack.query('env_check_total{job=~"envcheck-.*"}'):
            missing.pop(series["metric"]["job"], None)
        return not missing

    try:
        eventually(arrived, 60, "env_check_total from every app with an invalid value")
    except AssertionError:
        cases = [INVALID_VALUES[int(job.rsplit("-", 1)[1])] for job in missing]
        raise AssertionError(f"no metrics from the apps run with {cases}") from None

    def logs_missing() -> set[str]:
        return jobs - {body.removeprefix("env-check ") for body in _bodies(log_stack, r"env-check envcheck-\d+")}

    try:
        eventually(lambda: not logs_missing(), 60, "one log record from every app")
    except AssertionError:
        said = {job: done.stderr for job, _, done in results}
        raise AssertionError("no log record from " + "; ".join(
            f"{INVALID_VALUES[int(job.rsplit('-', 1)[1])]}, which said: {said[job]!r}" for job in sorted(logs_missing())
        ) + "\n" + log_pipeline_report(log_stack, f"env-check {min(logs_missing())}")) from None

