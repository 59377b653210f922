"""Each layer package reports its own version as its instrumentation scope version."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points, version

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

LAYERS = sorted(ep.name for ep in entry_points(group="opentelemetry_instrumentor") if ep.name.startswith("hms_"))
LAYERS.remove("hms_hooks")


@pytest.mark.parametrize("entry_point", LAYERS)
def test_scope_is_the_layer_package_and_its_version(entry_point: str) -> None:
    (found,) = entry_points(group="opentelemetry_instrumentor", name=entry_point)
    instrumentor_class = found.load()
    package = importlib.import_module(instrumentor_class.__module__)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    instrumentor = instrumentor_class()
    instrumentor.instrument(meter_provider=provider)
    try:
        data = reader.get_metrics_data()  # the layer's counters are there at 0 from instrument()
        scopes = {(sm.scope.name, sm.scope.version) for rm in data.resource_metrics for sm in rm.scope_metrics}
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert scopes == {(package.__name__, version(found.dist.name))}
    assert package.__version__ == version(found.dist.name)
