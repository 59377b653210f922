"""Serve the process's metrics as Prometheus text, under the HMS names.

The upstream OTel Prometheus exporter appends unit suffixes
(``payment_latency_ms_milliseconds``); dashboards and alert files use the
contract names, so this reader translates the way the HMS collector does
(``UnderscoreEscapingWithoutSuffixes``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics import _Gauge as Gauge
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricReader,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Gauge as GaugeData,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from hms_otel.registry import prometheus_name

_CUMULATIVE = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (Counter, UpDownCounter, Histogram, Gauge, ObservableCounter, ObservableUpDownCounter,
                 ObservableGauge)
}


class PrometheusTextReader(MetricReader):
    """A pull reader that is also a prometheus_client collector."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=_CUMULATIVE)
        self._latest: Any = None

    def _receive_metrics(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._latest = None

    def collect_families(self) -> Iterator[Metric]:
        self.collect()
        data = self._latest
        if data is None:
            return
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for item in scope_metrics.metrics:
                    yield from _families(item)


class _Collector:
    def __init__(self, reader: PrometheusTextReader) -> None:
        self._reader = reader

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        return self._reader.collect_families()


def serve(reader: PrometheusTextReader, port: int, host: str = "127.0.0.1") -> Any:
    """Start an HTTP server for ``/metrics`` on ``host:port``; returns the server."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(reader))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def _labels(attributes: Any) -> tuple[list[str], list[str]]:
    keys = sorted(attributes or {})
    return [prometheus_name(k) for k in keys], [str(attributes[k]) for k in keys]


def _families(item: Any) -> Iterator[Metric]:
    name, data = prometheus_name(item.name), item.data
    if isinstance(data, Sum) and data.is_monotonic:
        # prometheus_client writes a counter family as `<family>_total`; the HMS
        # names carry `_total` already, and one without it is left untyped.
        if name.endswith("_total"):
            family: Metric = Metric(name[: -len("_total")], item.description, "counter")
        else:
            family = Metric(name, item.description, "unknown")
        for point in data.data_points:
            keys, values = _labels(point.attributes)
            family.add_sample(name, dict(zip(keys, values, strict=True)), point.value)
        yield family
    elif isinstance(data, (Sum, GaugeData)):
        family = GaugeMetricFamily(name, item.description, labels=None)
        for point in data.data_points:
            keys, values = _labels(point.attributes)
            family.add_sample(name, dict(zip(keys, values, strict=True)), point.value)
        yield family
    elif isinstance(data, HistogramData):
        family = HistogramMetricFamily(name, item.description, labels=None)
        for point in data.data_points:
            keys, values = _labels(point.attributes)
            labels = dict(zip(keys, values, strict=True))
            cumulative = 0
            for bound, count in zip([*point.explicit_bounds, float("inf")], point.bucket_counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(float(bound))
                family.add_sample(f"{name}_bucket", {**labels, "le": le}, cumulative)
            family.add_sample(f"{name}_count", labels, point.count)
            family.add_sample(f"{name}_sum", labels, point.sum)
        yield family

