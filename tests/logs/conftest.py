"""A VictoriaLogs of its own (the real binary) and a way to put known records into it over OTLP,
without the collector: the log store client and the ``hms-ops logs`` commands are tested against it."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from hms_otel.stack import MissingBinary, ProcessError
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import VictoriaLogs

STREAM_FIELDS = "service.name,hms.layer,level"


@pytest.fixture(scope="module")
def victorialogs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaLogs]:
    store = VictoriaLogs(tmp_path_factory.mktemp("victorialogs"), free_port())
    try:
        store.start()
    except (MissingBinary, ProcessError) as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield store
    finally:
        store.stop()


def _any(value: object) -> common_pb2.AnyValue:
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    return common_pb2.AnyValue(string_value=str(value))


def _attributes(values: Mapping[str, object]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=key, value=_any(value)) for key, value in values.items()]


def ingest(
    url: str,
    service: str,
    records: Sequence[tuple[str, str, int, Mapping[str, object]]],
    layer: str = "ACH",
) -> None:
    """POST ``(message, level, time_ns, attributes)`` records as the collector would (OTLP protobuf)."""
    severity = {"debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
    logs = [
        logs_pb2.LogRecord(
            time_unix_nano=stamp,
            severity_number=severity[level],
            severity_text=level.upper(),
            body=common_pb2.AnyValue(string_value=message),
            attributes=_attributes({"level": level, **attributes}),
        )
        for message, level, stamp, attributes in records
    ]
    resource = resource_pb2.Resource(attributes=_attributes({"service.name": service, "hms.layer": layer}))
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(resource=resource, scope_logs=[logs_pb2.ScopeLogs(log_records=logs)])]
    )
    post = urllib.request.Request(
        url + "/insert/opentelemetry/v1/logs",
        data=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "VL-Stream-Fields": STREAM_FIELDS},
        method="POST",
    )
    with urllib.request.urlopen(post, timeout=30) as response:
        assert response.status == 200


def flush(url: str) -> None:
    """Make everything ingested so far searchable now (VictoriaLogs' /internal/force_flush)."""
    with urllib.request.urlopen(url + "/internal/force_flush", timeout=30) as response:
        assert response.status == 200


def now_ns(offset_s: float = 0) -> int:
    return time.time_ns() + int(offset_s * 1e9)


__all__ = ["Path", "flush", "ingest", "now_ns"]
