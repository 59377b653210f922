"""hms-otel: OpenTelemetry for the HMS platform.

>>> from hms_otel import metric, OPSAgent
>>> @metric.timer("payment_latency_ms")
... def pay(): ...

``OPSAgent`` (the SDK set-up, prometheus_client) is imported on first use, so
code that only uses ``metric`` pays for the OpenTelemetry API alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hms_otel import metric
from hms_otel._version import __version__
from hms_otel.registry import REGISTRY, Kind, MetricDefinition

if TYPE_CHECKING:
    from hms_otel.agent import OPSAgent

__all__ = ["REGISTRY", "Kind", "MetricDefinition", "OPSAgent", "__version__", "metric"]


def __getattr__(name: str) -> Any:
    if name == "OPSAgent":
        from hms_otel.agent import OPSAgent

        return OPSAgent
    raise AttributeError(f"module 'hms_otel' has no attribute {name!r}")
