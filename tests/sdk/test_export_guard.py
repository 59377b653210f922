"""Issue 13 class 1, Python side: bounded values, requests split to fit, oversize items dropped alone."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExporter, MetricExportResult, MetricsData

from hms_otel.export_guard import (
    ExportLimits,
    SizeBoundedLogExporter,
    SizeBoundedMetricExporter,
    bounded_text,
    split_logs,
    split_metrics,
)

RECEIVER_LIMIT = 4 * 1024 * 1024


def _points(data: MetricsData) -> list[object]:
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for point in m.data.data_points
    ]


def _collect(record) -> MetricsData:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    record(provider.get_meter("test"))
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


class _Recorder(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object) -> MetricExportResult:
        self.requests.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        pass


def test_bounded_text_keeps_distinct_values_distinct() -> None:
    a, b = "x" * 10_000 + "a", "x" * 10_000 + "b"
    assert bounded_text("short", 100) == "short"
    assert len(bounded_text(a, 100)) == 100
    assert bounded_text(a, 100) != bounded_text(b, 100)
    assert bounded_text(a, 100) == bounded_text(a, 100)


def test_a_huge_attribute_value_is_cut_and_the_request_fits() -> None:
    def record(meter) -> None:
        counter = meter.create_counter("refund_pdf_total")
        counter.add(1, {"note": "x" * 5_000_000})
        counter.add(1, {"note": "ok"})

    exporter = _Recorder()
    SizeBoundedMetricExporter(exporter, ExportLimits()).export(_collect(record))
    points = [p for request in exporter.requests for p in _points(request)]
    assert len(points) == 2
    assert all(len(p.attributes["note"]) <= 4096 for p in points)
    assert all(encode_metrics(r).ByteSize() < RECEIVER_LIMIT for r in exporter.requests)


def test_80k_series_are_split_into_requests_under_the_receiver_limit() -> None:
    # The SDK keeps at most 2000 series per instrument: 40 instruments of 2000 series.
    def record(meter) -> None:
        for m in range(40):
            counter = meter.create_counter(f"orders_{m}_total")
            for i in range(2000):
                counter.add(1, {"order": f"order-{i:06d}", "region": "north"})

    data = _collect(record)
    requests, dropped = split_metrics(data, ExportLimits())
    assert dropped == 0
    assert len(requests) > 1
    assert sum(len(_points(r)) for r in requests) == len(_points(data))
    sizes = [encode_metrics(r).ByteSize() for r in requests]
    assert max(sizes) < RECEIVER_LIMIT, sizes
    assert sum(sizes) > RECEIVER_LIMIT  # one request would have been refused


def test_a_point_that_fits_no_request_is_dropped_alone_and_counted(reader) -> None:
    def record(meter) -> None:
        counter = meter.create_counter("wide_total")
        counter.add(1, {f"k{i}": "v" * 1000 for i in range(200)})  # about 200 kB
        for i in range(10):
            counter.add(1, {"n": str(i)})

    limits = ExportLimits(max_request_bytes=50_000)
    requests, dropped = split_metrics(_collect(record), limits)
    assert dropped == 1
    assert sum(len(_points(r)) for r in requests) == 10

    exporter = _Recorder()
    SizeBoundedMetricExporter(exporter, limits).export(_collect(record))
    counted = {
        tuple(sorted(p.attributes.items())): p.value
        for m in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
        if m.name == "hms_otel_dropped_total"
        for p in m.data.data_points
    }
    assert counted == {(("reason", "too_large"), ("signal", "metrics")): 1}


class _LogRecorder(LogRecordExporter):
    def __init__(self) -> None:
        self.batches: list[Sequence] = []

    def export(self, batch):
        self.batches.append(list(batch))
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def test_a_10mb_log_body_is_cut_and_the_good_records_go_through() -> None:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("test")
    for i in range(50):
        logger.emit(body=f"good-{i}")
    logger.emit(body="y" * 10_000_000)
    for i in range(50, 100):
        logger.emit(body=f"good-{i}")
    batch = memory.get_finished_logs()

    chunks, dropped = split_logs(batch, ExportLimits())
    assert dropped == 0
    assert sum(len(c) for c in chunks) == 101
    assert all(encode_logs(c).ByteSize() < RECEIVER_LIMIT for c in chunks)

    recorder = _LogRecorder()
    SizeBoundedLogExporter(recorder, ExportLimits()).export(batch)
    bodies = [r.log_record.body for chunk in recorder.batches for r in chunk]
    assert [b for b in bodies if b.startswith("good-")] == [f"good-{i}" for i in range(100)]
    assert max(len(b) for b in bodies) <= 64 * 1024
    assert batch[50].log_record.body == "y" * 10_000_000  # the SDK's record is not changed


def test_the_facades_cut_a_huge_value_where_it_is_recorded(reader) -> None:
    from hms_otel import metric

    metric.increment("refund_pdf_total", note="x" * 1_000_000, channel="web")
    points = [
        p
        for m in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
        if m.name == "refund_pdf_total"
        for p in m.data.data_points
    ]
    assert len(points) == 1
    assert len(points[0].attributes["note"]) == 4096 and points[0].attributes["channel"] == "web"


class _NoText:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def _self_holding_list() -> list[object]:
    items: list[object] = [1]
    items.append(items)
    return items


# Log bodies the logging bridge hands over as they are (logging.warning(obj)) or metric.log builds, that the
# OTLP encoder cannot write: each made the whole batch raise at encoding.
UNWRITABLE_BODIES = {
    "lone surrogate": "file na\udcffme.txt",
    "high surrogate": "half \ud83d pair",
    "int past int64": 2**70,
    "negative int past int64": -(2**63) - 1,
    "object in a dict": {"k": object()},
    "dict key whose __str__ raises": {_NoText(): 1},
    "surrogate in a nested key": {"a": {"k\udcff": ["v\udc80"]}},
    "list that holds itself": _self_holding_list(),
    "object in a list": [1, _NoText()],
}


def test_every_log_record_is_encodable_after_the_guard() -> None:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("test")
    for name, body in UNWRITABLE_BODIES.items():
        logger.emit(body=body, attributes={"case": name, "path\udcff": "p\udcffq", "list": ("a\udcff", "b")})
    batch = memory.get_finished_logs()

    chunks, dropped = split_logs(batch, ExportLimits())
    records = [record for chunk in chunks for record in chunk]
    assert dropped == 0 and len(records) == len(UNWRITABLE_BODIES)
    for record in records:  # each alone: one that still raises is named
        encode_logs([record]).SerializeToString()
    by_case = {r.log_record.attributes["case"]: r.log_record for r in records}
    assert by_case["lone surrogate"].body == "file na\\udcffme.txt"  # the bad byte shown, the rest kept
    assert by_case["int past int64"].body == str(2**70)
    assert by_case["dict key whose __str__ raises"].body == {"<_NoText object>": 1}
    assert dict(by_case["lone surrogate"].attributes) == {
        "case": "lone surrogate", "path\\udcff": "p\\udcffq", "list": ("a\\udcff", "b")
    }
    assert batch[0].log_record.body == "file na\udcffme.txt"  # the SDK's record is not changed


def test_a_metric_attribute_with_a_lone_surrogate_is_exported_with_it() -> None:
    data = _collect(lambda meter: meter.create_counter("files_total").add(1, {"name": "na\udcffme"}))
    requests, _ = split_metrics(data, ExportLimits())
    [point] = [p for request in requests for p in _points(request)]
    assert dict(point.attributes) == {"name": "na\\udcffme"}
    encode_metrics(requests[0]).SerializeToString()
