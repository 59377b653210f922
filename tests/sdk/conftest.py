from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import metric

from ..support import instrumented_argv, instrumented_env
from .otlp_receiver import OtlpReceiver


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """A plain SDK meter provider (no HMS set-up, no Views) given to the facades."""
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):
        yield memory
    provider.shutdown()


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def app_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Environment for an app exporting to the test-side receiver at ``endpoint``."""
    return instrumented_env(
        endpoint, **{"OTEL_METRIC_EXPORT_INTERVAL": "500", "OTEL_BLRP_SCHEDULE_DELAY": "200", **extra}
    )


def run_instrumented(app: str, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        instrumented_argv(app, args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
