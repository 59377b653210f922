"""hms-otel: OpenTelemetry for the HMS platform.

>>> from hms_otel import metric, OPSAgent
>>> @metric.timer("payment_latency_ms")
... def pay(): ...

Everything is imported on first use: code that only uses ``metric`` pays for
the OpenTelemetry API alone (``OPSAgent``, the SDK set-up and prometheus_client
come with ``OPSAgent``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hms_otel._version import __version__  # static: no importlib.metadata (about 27 ms)

if TYPE_CHECKING:
    from hms_otel import metric
    from hms_otel.agent import OPSAgent
    from hms_otel.registry import REGISTRY, Kind, MetricDefinition

__all__ = ["REGISTRY", "Kind", "MetricDefinition", "OPSAgent", "__version__", "metric"]

# Imported on first use: `hms-ops` and its resting supervisor never load the OpenTelemetry SDK,
# and `hms-ops up` starts its servers without reading the metric registry.
_LAZY = {
    "metric": ("hms_otel.metric", None),
    "OPSAgent": ("hms_otel.agent", "OPSAgent"),
    "REGISTRY": ("hms_otel.registry", "REGISTRY"),
    "Kind": ("hms_otel.registry", "Kind"),
    "MetricDefinition": ("hms_otel.registry", "MetricDefinition"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hms_otel' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value: Any = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
