"""Exporter wrappers that keep one bad value from stopping export.

The OTLP gRPC receiver refuses any request over 4 MiB, and the SDK keeps
cumulative state: one attribute value of a few MB, or tens of thousands of
series, would make every later export of the process fail. The wrappers here
sit between the SDK and its exporter (an exporter in, an exporter out, so they
compose with any other wrapper such as an on-disk log buffer):

- values the OTLP encoder cannot write are made writable (:func:`exportable`):
  text with lone surrogates (undecodable bytes from ``os.fsdecode`` or
  ``surrogateescape``) gets them as ``\\udcff`` escapes, an int past int64 and
  an object of another type become text, nesting past
  :data:`MAX_NESTING` is cut. Without this one such log record failed every
  export of the batch it was in, and of every batch after it;
- attribute values longer than ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` (the SDK
  bounds span and log attributes, not metric attributes) and log bodies longer
  than ``HMS_OTEL_LOG_BODY_LENGTH_LIMIT`` are cut, with a short hash of the
  whole value so two long values that share a prefix stay two series;
- each export is split into requests whose estimated encoded size stays
  under ``HMS_OTEL_MAX_REQUEST_BYTES`` (default 3 MiB, below the receiver's
  4 MiB);
- a data point or log record that cannot fit any request is dropped alone,
  counted in ``hms_otel_dropped_total{signal, reason="too_large"}`` and logged
  once, and everything else is exported.

Sizes are estimated from the data (a cheap upper bound of the protobuf size),
not by encoding twice.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from hms_otel.attributes import DEFAULT_VALUE_LENGTH_LIMIT as DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT
from hms_otel.attributes import INT64_LIMIT, bounded_text, int_text
from hms_otel.selfmetrics import count_dropped

DEFAULT_LOG_BODY_LENGTH_LIMIT = 64 * 1024
DEFAULT_MAX_REQUEST_BYTES = 3 * 1024 * 1024

# Fixed protobuf overhead per data point (two fixed64 timestamps, value, tags, lengths).
_POINT_BYTES = 48
_ATTRIBUTE_BYTES = 12
_LOG_RECORD_BYTES = 96
# Resource and scope of a log chunk, counted once per record to stay an upper bound.
_LOG_WRAPPER_BYTES = 256


def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclasses.dataclass(frozen=True)
class ExportLimits:
    """What one export request may hold; :meth:`from_env` reads the documented variables."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    attribute_value_length: int = DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT
    log_body_length: int = DEFAULT_LOG_BODY_LENGTH_LIMIT

    @classmethod
    def from_env(cls) -> ExportLimits:
        return cls(
            max_request_bytes=_env_int("HMS_OTEL_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
            attribute_value_length=_env_int("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT),
            log_body_length=_env_int("HMS_OTEL_LOG_BODY_LENGTH_LIMIT", DEFAULT_LOG_BODY_LENGTH_LIMIT),
        )


# -- bounding values ----------------------------------------------------------------

#: How deep lists and dicts in a log body or attribute may nest; deeper ones are replaced by a marker text
#: (a list that holds itself would make the encoder recurse until RecursionError).
MAX_NESTING = 32


def _utf8(text: str) -> str:
    """``text`` if UTF-8 can encode it, else with each lone surrogate written as its escape (``\\udcff``)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _text(value: object) -> str:
    """``str(value)`` made writable; a value whose ``__str__`` raises is named by its type."""
    try:
        return _utf8(str.__str__(str(value)))
    except Exception:
        return f"<{type(value).__name__} object>"


def exportable(value: Any, depth: int = 0) -> Any:
    """``value`` as the OTLP encoder can write it (``value`` itself when it can already): text valid as
    UTF-8, ints within int64, lists and dicts of such nested at most :data:`MAX_NESTING` deep, dict keys as
    text; anything else is its text. The logging bridge hands any ``logging.info(obj)`` over as it is."""
    if isinstance(value, str):
        return _utf8(value)
    if value is None or isinstance(value, (bool, float, bytes, bytearray)):
        return value
    if isinstance(value, int):
        return value if -INT64_LIMIT <= value < INT64_LIMIT else int_text(value)
    if isinstance(value, (Sequence, Mapping)) and depth >= MAX_NESTING:
        return f"[nested deeper than {MAX_NESTING}]"
    if isinstance(value, Sequence):
        items = tuple(exportable(item, depth + 1) for item in value)
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    if isinstance(value, Mapping):
        pairs = [(key, _utf8(key) if type(key) is str else _text(key), item, exportable(item, depth + 1))
                 for key, item in value.items()]
        if all(new_key is key and new is item for key, new_key, item, new in pairs):
            return value
        return {new_key: new for _, new_key, _, new in pairs}
    return _text(value)


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, Mapping):
        return sum(len(str(k)) + _value_size(v) + _ATTRIBUTE_BYTES for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_value_size(item) + 4 for item in value)
    return 11


def _bounded_attributes(attributes: Mapping[str, Any] | None, limit: int) -> tuple[Mapping[str, Any] | None, int]:
    """(attributes with long string values cut, estimated encoded size)."""
    if not attributes:
        return attributes, 0
    size = 0
    replaced: dict[str, Any] | None = None
    for key, value in attributes.items():
        new_key = _utf8(key) if isinstance(key, str) else key
        new_value = exportable(value)
        if isinstance(new_value, str) and len(new_value) > limit:
            new_value = bounded_text(new_value, limit)
        elif isinstance(new_value, (list, tuple)) and any(isinstance(v, str) and len(v) > limit for v in new_value):
            new_value = tuple(bounded_text(v, limit) if isinstance(v, str) else v for v in new_value)
        if new_key is not key or new_value is not value:
            if replaced is None:
                replaced = dict(attributes)
            if new_key is not key:
                del replaced[key]
            replaced[new_key] = new_value
        size += len(new_key) + _value_size(new_value) + _ATTRIBUTE_BYTES
    return (replaced if replaced is not None else attributes), size


# -- metrics -------------------------------------------------------------------------


def _point_size(point: Any) -> int:
    size = _POINT_BYTES
    counts = getattr(point, "bucket_counts", None)
    if counts is not None:  # explicit-bucket histogram
        size += 10 * len(counts) + 9 * len(point.explicit_bounds) + 40
    positive = getattr(point, "positive", None)
    if positive is not None:  # exponential histogram
        size += 10 * (len(positive.bucket_counts) + len(point.negative.bucket_counts)) + 60
    for exemplar in getattr(point, "exemplars", None) or ():
        size += _POINT_BYTES + 32 + _bounded_attributes(exemplar.filtered_attributes, 1 << 62)[1]
    return size


def _bounded_point(point: Any, limit: int) -> tuple[Any, int]:
    attributes, attributes_size = _bounded_attributes(point.attributes, limit)
    if attributes is not point.attributes:
        point = dataclasses.replace(point, attributes=attributes)
    return point, attributes_size + _point_size(point)


def _metric_header_size(metric: Any) -> int:
    return len(metric.name) + len(metric.description or "") + len(metric.unit or "") + 24


def _resource_size(resource: Any) -> int:
    return _bounded_attributes(resource.attributes, 1 << 62)[1] + 16


def split_metrics(data: MetricsData, limits: ExportLimits) -> tuple[list[MetricsData], int]:
    """``data`` as requests that each fit ``limits.max_request_bytes``, and how many
    data points could fit no request (dropped).

    Points are packed in order; a request is closed when the next point would
    overflow it, and resource/scope/metric wrappers are repeated in each request
    that carries points of theirs.
    """
    budget = limits.max_request_bytes
    value_limit = limits.attribute_value_length
    requests: list[MetricsData] = []
    dropped = 0
    # The request being filled, as nested lists mirroring MetricsData.
    current: list[tuple[Any, list[tuple[Any, list[tuple[Any, list[Any]]]]]]] = []
    used = 0

    def close() -> None:
        nonlocal current, used
        if current:
            requests.append(_assemble(current))
        current, used = [], 0

    for resource_metrics in data.resource_metrics:
        resource_cost = _resource_size(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope_cost = len(scope_metrics.scope.name) + len(scope_metrics.scope.version or "") + 16
            for metric in scope_metrics.metrics:
                header_cost = _metric_header_size(metric)
                for point in metric.data.data_points:
                    point, cost = _bounded_point(point, value_limit)
                    wrapper_cost = resource_cost + scope_cost + header_cost
                    if cost + wrapper_cost > budget:
                        dropped += 1
                        continue
                    slot = _slot(current, resource_metrics, scope_metrics, metric)
                    extra = cost + (0 if slot is not None else wrapper_cost)
                    if used + extra > budget:
                        close()
                        slot, extra = None, cost + wrapper_cost
                    if slot is None:
                        slot = _open_slot(current, resource_metrics, scope_metrics, metric)
                    slot.append(point)
                    used += extra
    close()
    return requests, dropped


def _slot(current: list[Any], resource_metrics: Any, scope_metrics: Any, metric: Any) -> list[Any] | None:
    """The point list for ``metric`` in the request being filled, if it is the last one opened."""
    if not current or current[-1][0] is not resource_metrics:
        return None
    scopes = current[-1][1]
    if not scopes or scopes[-1][0] is not scope_metrics:
        return None
    metrics = scopes[-1][1]
    if not metrics or metrics[-1][0] is not metric:
        return None
    points: list[Any] = metrics[-1][1]
    return points


def _open_slot(current: list[Any], resource_metrics: Any, scope_metrics: Any, metric: Any) -> list[Any]:
    if not current or current[-1][0] is not resource_metrics:
        current.append((resource_metrics, []))
    scopes = current[-1][1]
    if not scopes or scopes[-1][0] is not scope_metrics:
        scopes.append((scope_metrics, []))
    metrics = scopes[-1][1]
    points: list[Any] = []
    metrics.append((metric, points))
    return points


def _assemble(current: list[Any]) -> MetricsData:
    return MetricsData(
        resource_metrics=[
            dataclasses.replace(
                resource_metrics,
                scope_metrics=[
                    dataclasses.replace(
                        scope_metrics,
                        metrics=[
                            dataclasses.replace(metric, data=dataclasses.replace(metric.data, data_points=points))
                            for metric, points in metrics
                        ],
                    )
                    for scope_metrics, metrics in scopes
                ],
            )
            for resource_metrics, scopes in current
        ]
    )


class SizeBoundedMetricExporter(MetricExporter):
    """Wraps a metric exporter: bounded attribute values, requests split to fit, oversize points dropped alone."""

    def __init__(self, inner: MetricExporter, limits: ExportLimits | None = None) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._exporter = inner
        self.limits = limits or ExportLimits.from_env()

    @property
    def exporter(self) -> MetricExporter:
        """The wrapped exporter."""
        return self._exporter

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        requests, dropped = split_metrics(metrics_data, self.limits)
        if dropped:
            count_dropped("metrics", "too_large", dropped, f"data points over {self.limits.max_request_bytes} bytes")
        result = MetricExportResult.SUCCESS
        for request in requests:
            if (
                self._exporter.export(request, timeout_millis=timeout_millis, **kwargs)
                is not MetricExportResult.SUCCESS
            ):
                result = MetricExportResult.FAILURE
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)

    def rewrap(self, inner: MetricExporter) -> SizeBoundedMetricExporter:
        """The same wrapper around another exporter (after fork)."""
        return SizeBoundedMetricExporter(inner, self.limits)


# -- logs ----------------------------------------------------------------------------


def _bounded_log(record: ReadableLogRecord, limits: ExportLimits) -> tuple[ReadableLogRecord, int]:
    log = record.log_record
    body = log.body
    try:
        new_body = exportable(body)
    except Exception:  # a list or dict of the app's whose iteration raises
        new_body = _text(body)
    if isinstance(new_body, str) and len(new_body) > limits.log_body_length:
        new_body = bounded_text(new_body, limits.log_body_length)
    elif isinstance(new_body, (bytes, bytearray)) and len(new_body) > limits.log_body_length:
        new_body = bytes(new_body[: limits.log_body_length])
    attributes, attributes_size = _bounded_attributes(log.attributes, limits.attribute_value_length)
    if new_body is not body or attributes is not log.attributes:
        log = copy.copy(log)
        log.body = new_body
        log.attributes = attributes
        record = dataclasses.replace(record, log_record=log)
    size = _LOG_RECORD_BYTES + _LOG_WRAPPER_BYTES + attributes_size + _value_size(new_body)
    size += len(log.severity_text or "")
    return record, size


def split_logs(batch: Sequence[ReadableLogRecord], limits: ExportLimits) -> tuple[list[list[ReadableLogRecord]], int]:
    """``batch`` as chunks under ``limits.max_request_bytes``, and how many records fit none (dropped)."""
    chunks: list[list[ReadableLogRecord]] = []
    current: list[ReadableLogRecord] = []
    used = 0
    dropped = 0
    for record in batch:
        record, cost = _bounded_log(record, limits)
        if cost > limits.max_request_bytes:
            dropped += 1
            continue
        if used + cost > limits.max_request_bytes and current:
            chunks.append(current)
            current, used = [], 0
        current.append(record)
        used += cost
    if current:
        chunks.append(current)
    return chunks, dropped


class SizeBoundedLogExporter(LogRecordExporter):
    """Wraps a log exporter: bounded bodies and attribute values, batches split to fit,
    oversize records dropped alone."""

    def __init__(self, inner: LogRecordExporter, limits: ExportLimits | None = None) -> None:
        self._exporter = inner
        self.limits = limits or ExportLimits.from_env()

    @property
    def exporter(self) -> LogRecordExporter:
        """The wrapped exporter."""
        return self._exporter

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        chunks, dropped = split_logs(batch, self.limits)
        if dropped:
            count_dropped("logs", "too_large", dropped, f"log records over {self.limits.max_request_bytes} bytes")
        result = LogRecordExportResult.SUCCESS
        for chunk in chunks:
            if self._exporter.export(chunk) is not LogRecordExportResult.SUCCESS:
                result = LogRecordExportResult.FAILURE
        return result

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._exporter.shutdown()  # type: ignore[no-untyped-call]

    def rewrap(self, inner: LogRecordExporter) -> SizeBoundedLogExporter:
        """The same wrapper around another exporter (after fork)."""
        return SizeBoundedLogExporter(inner, self.limits)


def guard_metric_exporter(exporter: MetricExporter) -> MetricExporter:
    """``exporter`` wrapped so no request exceeds the receiver's limit (idempotent)."""
    return exporter if isinstance(exporter, SizeBoundedMetricExporter) else SizeBoundedMetricExporter(exporter)


def guard_log_exporter(exporter: LogRecordExporter) -> LogRecordExporter:
    """``exporter`` wrapped so no request exceeds the receiver's limit (idempotent)."""
    return exporter if isinstance(exporter, SizeBoundedLogExporter) else SizeBoundedLogExporter(exporter)
