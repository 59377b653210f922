"""Serve the process's metrics as Prometheus text, under the HMS names.

The upstream OTel Prometheus exporter appends unit suffixes
(``payment_latency_ms_milliseconds``); dashboards and alert files use the
contract names, so this reader translates the way the HMS collector does
(``UnderscoreEscapingWithoutSuffixes``). The text exposition format (0.0.4) is
written here with the standard library, so a service's ``/metrics`` needs no
dependency beyond the OpenTelemetry SDK.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricReader,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Gauge as GaugeData,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from opentelemetry.sdk.metrics.export import Metric as MetricData

from hms_otel._fastpath_readers import FacadeMergingReader
from hms_otel._sdk_internals import SdkGauge as Gauge
from hms_otel.registry import prometheus_label, prometheus_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_CUMULATIVE = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (Counter, UpDownCounter, Histogram, Gauge, ObservableCounter, ObservableUpDownCounter,
                 ObservableGauge)
}


class _LatestReader(MetricReader):
    """A pull reader that keeps its latest collection."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=_CUMULATIVE)  # type: ignore[arg-type]  # SDK stubs: type keys
        self._latest: MetricsData | None = None
        self._render_lock = threading.Lock()

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._latest = None


class PrometheusTextReader(FacadeMergingReader, _LatestReader):
    """A pull reader (with the facades' metrics) that renders what it collects as Prometheus text."""

    def render(self) -> str:
        """Collect now and return the exposition text."""
        with self._render_lock:
            self.collect()
            data = self._latest
            if data is None:
                return ""
            return "".join(
                line
                for resource_metrics in data.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for item in scope_metrics.metrics
                for line in _family(item)
            )


def serve(reader: PrometheusTextReader, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                self.send_error(404, "only /metrics is served here")
                return
            body = reader.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not the service's log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="hms-otel-metrics", daemon=True).start()
    return server


def _family(item: MetricData) -> Iterator[str]:
    name, data = prometheus_name(item.name), item.data
    if isinstance(data, Sum) and data.is_monotonic:
        # HMS counter names carry `_total` already; one without it is left untyped.
        kind = "counter" if name.endswith("_total") else "untyped"
    elif isinstance(data, (Sum, GaugeData)):
        kind = "gauge"
    elif isinstance(data, HistogramData):
        kind = "histogram"
    else:
        return  # exponential histograms have no classic text form
    yield f"# HELP {name} {_escape_help(item.description or '')}\n"
    yield f"# TYPE {name} {kind}\n"
    if isinstance(data, HistogramData):
        for point in data.data_points:
            labels = _labels(point.attributes)
            cumulative = 0
            for bound, count in zip([*point.explicit_bounds, math.inf], point.bucket_counts, strict=True):
                cumulative += count
                yield _sample(f"{name}_bucket", {**labels, "le": _number(bound)}, cumulative)
            yield _sample(f"{name}_count", labels, point.count)
            yield _sample(f"{name}_sum", labels, point.sum)
    else:
        for number_point in data.data_points:
            yield _sample(name, _labels(number_point.attributes), number_point.value)


def _labels(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    return {prometheus_label(key): str(value) for key, value in sorted((attributes or {}).items())}


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_number(value)}\n"
    pairs = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels.items())
    return f"{name}{{{pairs}}} {_number(value)}\n"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
