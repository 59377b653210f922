"""A test-side OTLP/gRPC receiver that keeps what it is sent.

Used where the test is about the Python side (what leaves the process); the
end-to-end tests under tests/stack use the real collector instead.
"""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc


class OtlpReceiver(metrics_service_pb2_grpc.MetricsServiceServicer, logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self) -> None:
        self.metric_requests: list[Any] = []
        self.log_requests: list[Any] = []
        self._lock = threading.Lock()
        #: While set to an unset Event, log exports wait for it (a slow collector); ``held`` says one is waiting.
        self.hold_logs: threading.Event | None = None
        self.held = threading.Event()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self._server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def Export(self, request: Any, context: Any) -> Any:
        hold = self.hold_logs
        if hold is not None and isinstance(request, logs_service_pb2.ExportLogsServiceRequest):
            self.held.set()
            hold.wait(30)
        with self._lock:
            if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
                self.metric_requests.append(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()
            self.log_requests.append(request)
            return logs_service_pb2.ExportLogsServiceResponse()

    # -- reading what arrived ------------------------------------------------------

    def metrics(self) -> list[tuple[dict[str, Any], Any]]:
        """Every (resource attributes, metric) received so far."""
        with self._lock:
            requests = list(self.metric_requests)
        return [
            (_attributes(rm.resource.attributes), metric)
            for request in requests
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        ]

    def latest(self, name: str) -> Any | None:
        found = [metric for _, metric in self.metrics() if metric.name == name]
        return found[-1] if found else None

    def log_records(self) -> list[tuple[dict[str, Any], Any]]:
        with self._lock:
            requests = list(self.log_requests)
        return [
            (_attributes(rl.resource.attributes), record)
            for request in requests
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]


def _attributes(key_values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in key_values:
        field = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, field) if field else None
    return out


def attributes_of(point: Any) -> dict[str, Any]:
    return _attributes(point.attributes)
