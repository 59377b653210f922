"""Helpers for the tests of hook-based instrumentations (the layer packages' and ours).

Needs ``opentelemetry-test-utils`` (for ``TestBase``), which is a test-only
dependency; nothing else in hms_otel imports this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from opentelemetry.sdk.metrics.export import Gauge, Histogram, Metric, Sum
from opentelemetry.test.test_base import TestBase

from hms_otel.registry import REGISTRY, Kind

__all__ = ["HookTestBase", "wrapped_under_auto_instrumentation"]

_SDK_DATA = {
    Kind.HISTOGRAM: (Histogram, None),
    Kind.COUNTER: (Sum, True),
    Kind.UPDOWN_COUNTER: (Sum, False),
    Kind.OBSERVABLE_GAUGE: (Gauge, None),
    Kind.GAUGE: (Gauge, None),
}


class HookTestBase(TestBase):
    """``TestBase`` plus lookups by metric name and a contract check."""

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Data points of metric ``name`` keyed by their attribute sets."""
        return {frozenset((p.attributes or {}).items()): p for p in self.metric(name).data.data_points}

    def metric(self, name: str) -> Metric:
        collected = self.get_sorted_metrics()  # once: observable callbacks run per collection
        found = [m for m in collected if m.name == name]
        if len(found) != 1:
            self.fail(f"expected one metric {name!r}, got {[m.name for m in collected]}")
        metric: Metric = found[0]
        return metric

    def assert_contract(self, name: str) -> Metric:
        """Check kind, unit and description of ``name`` against the registry."""
        metric = self.metric(name)
        definition = REGISTRY[name]
        data_type, monotonic = _SDK_DATA[definition.kind]
        self.assertIsInstance(metric.data, data_type, name)
        if monotonic is not None:
            self.assertIs(getattr(metric.data, "is_monotonic", None), monotonic, name)
        self.assertEqual((metric.unit, metric.description), (definition.unit, definition.description))
        return metric

    def value(self, name: str, **attributes: Any) -> Any:
        """Value (counters, gauges) or (count, sum) (histograms) of one point."""
        point = self.points(name)[frozenset(attributes.items())]
        return (point.count, point.sum) if hasattr(point, "count") else point.value


_PROBE = """
import importlib, json, sys
out = {}
for target in sys.argv[1:]:
    module, _, qualname = target.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    out[target] = hasattr(obj, "__wrapped__")
print(json.dumps(out))
"""


def wrapped_under_auto_instrumentation(targets: list[str], **env: str) -> dict[str, bool]:
    """Run ``opentelemetry-instrument python`` and report which targets it wrapped.

    Exporters are off: this only asks which instrumentors were loaded.
    """
    environ = {
        **os.environ,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **env,
    }
    command = [os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument"), sys.executable]
    done = subprocess.run(
        [*command, "-c", _PROBE, *targets], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"probe failed ({done.returncode}):\n{done.stderr}")
    wrapped: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return wrapped
