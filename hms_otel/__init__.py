"""hms-otel: OpenTelemetry for the HMS platform.

>>> from hms_otel import metric, OPSAgent
>>> @metric.timer("payment_latency_ms")
... def pay(): ...
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hms-otel")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from hms_otel import metric
from hms_otel.agent import OPSAgent
from hms_otel.registry import REGISTRY, Kind, MetricDefinition

__all__ = ["REGISTRY", "Kind", "MetricDefinition", "OPSAgent", "__version__", "metric"]
