from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.test.globals_test import reset_metrics_globals

from hms_otel import metric, sdk

from .otlp_receiver import OtlpReceiver

APPS = Path(__file__).resolve().parents[1] / "apps"


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """A fresh SDK with an in-memory reader as the global meter provider."""
    reset_metrics_globals()
    metric._instruments.clear()
    metric._by_call.clear()
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory], views=sdk.build_views(), shutdown_on_exit=False)
    metrics.set_meter_provider(provider)
    yield memory
    provider.shutdown()
    reset_metrics_globals()
    metric._instruments.clear()
    metric._by_call.clear()


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def app_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Environment for an app under opentelemetry-instrument, with no inherited OTEL_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HMS_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="500",
        OTEL_BLRP_SCHEDULE_DELAY="200",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_instrumented(app: str, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    instrument = bindir / "opentelemetry-instrument"
    return subprocess.run(
        [str(instrument), sys.executable, str(APPS / app), *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
