"""Readers that deliver the facades' aggregated metrics with the SDK's.

The Python SDK has no MetricProducer; these readers are built on the one
method every reader implements, ``_receive_metrics`` (where the SDK hands a
collection over), and the public ``collect``. They merge the metrics of
:mod:`hms_otel._fastpath` into the SDK's ``MetricsData`` under the
``hms_otel`` scope and the provider's resource.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Metric,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from hms_otel import _fastpath

_log = logging.getLogger("hms_otel")


def merge(metrics_data: MetricsData | None) -> MetricsData | None:
    """``metrics_data`` (the SDK's collection, or None when it had nothing)
    with the metrics of :mod:`hms_otel._fastpath` added, each under its
    meter's scope (the facades': ``hms_otel``; a hook's: its layer package)."""
    if not _fastpath.installed():
        return metrics_data
    produced = _fastpath.metrics_now()
    if not produced:
        return metrics_data
    by_scope: dict[_fastpath.Scope, list[Metric]] = {}
    for scope, item in produced:
        by_scope.setdefault(scope, []).append(item)
    if metrics_data is None or not metrics_data.resource_metrics:
        resource = _fastpath.resource() or Resource.get_empty()
        first = ResourceMetrics(resource=resource, scope_metrics=[], schema_url=resource.schema_url)
        rest: list[ResourceMetrics] = []
    else:
        first, rest = metrics_data.resource_metrics[0], list(metrics_data.resource_metrics[1:])
    scopes = list(first.scope_metrics)
    for (name, version), metrics in by_scope.items():
        for index, scope_metrics in enumerate(scopes):
            if (scope_metrics.scope.name, scope_metrics.scope.version) == (name, version):
                scopes[index] = ScopeMetrics(
                    scope=scope_metrics.scope,
                    metrics=[*scope_metrics.metrics, *metrics],
                    schema_url=scope_metrics.schema_url,
                )
                break
        else:
            instrumentation_scope = InstrumentationScope(name, version)
            scopes.append(
                ScopeMetrics(
                    scope=instrumentation_scope, metrics=metrics, schema_url=instrumentation_scope.schema_url or ""
                )
            )
    merged = ResourceMetrics(resource=first.resource, scope_metrics=scopes, schema_url=first.schema_url)
    return MetricsData(resource_metrics=[merged, *rest])


# -- readers that merge -----------------------------------------------------------------


class FacadeMergingReader(MetricReader):
    """A reader whose collections include the facades' metrics.

    Mix in before a concrete reader; it wraps ``_receive_metrics`` (what the
    SDK hands a collection to) and ``collect`` (so a collection in which the
    SDK itself had nothing still delivers the facades' points).
    """

    merges_facade_metrics = True  # what hms_otel._fastpath.enable looks for
    _hms_delivered = threading.local()

    # The SDK marks collect() final; this override only adds a delivery when
    # the SDK itself had nothing (it then never calls _receive_metrics).
    def collect(self, timeout_millis: float = 10_000) -> None:  # type: ignore[misc]
        delivered = FacadeMergingReader._hms_delivered
        delivered.done = False
        super().collect(timeout_millis=timeout_millis)
        if not delivered.done and _fastpath.installed():
            merged = merge(None)
            if merged is not None:
                super()._receive_metrics(merged, timeout_millis=timeout_millis)  # type: ignore[safe-super]

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        FacadeMergingReader._hms_delivered.done = True
        merged = metrics_data
        try:
            merged = merge(metrics_data) or metrics_data
        except Exception:
            _log.debug("hms_otel: merging facade metrics failed", exc_info=True)
        super()._receive_metrics(merged, timeout_millis=timeout_millis, **kwargs)  # type: ignore[safe-super]


class MergingPeriodicReader(FacadeMergingReader, PeriodicExportingMetricReader):
    """``PeriodicExportingMetricReader`` (the OTLP push path) with the facades' metrics."""
