from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

_serial = itertools.count()


class Metrics:
    """An SDK meter with an in-memory reader, and lookups by metric name."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.meter = self.provider.get_meter("tests.hooks")

    def collect(self) -> dict[str, object]:
        data = self.reader.get_metrics_data()
        found: dict[str, object] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found

    def points(self, name: str) -> dict[frozenset, object]:
        metric = self.collect()[name]
        return {frozenset(p.attributes.items()): p for p in metric.data.data_points}


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    sdk = Metrics()
    yield sdk
    sdk.provider.shutdown()


@pytest.fixture
def name() -> str:
    """A metric name no other test used: the registry is process-wide."""
    return f"hooks_test_{next(_serial)}"
