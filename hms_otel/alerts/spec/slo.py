"""One SLO: an objective over a period, measured by a latency histogram or an error counter."""

from __future__ import annotations

import math

from hms_otel.alerts.model import Action, Duration, Slo
from hms_otel.alerts.spec.actions import read_actions
from hms_otel.alerts.spec.fields import GROUP, FieldReader, Fields, Invalid
from hms_otel.alerts.spec.labels import read_selector
from hms_otel.alerts.spec.metric import read_layer, read_metric
from hms_otel.alerts.syntax import shown
from hms_otel.registry import Kind, MetricDefinition
from hms_otel.yamlfile import MapNode, Node, NodeError, Scalar, parse_decimal

SLO_FIELDS = (
    "slo", "objective", "period", "latency", "errors", "labels", "message", "summary",
    "runbook", "group", "action", "ticket_action", "layer",
)
_DEFAULT_PERIOD = Duration("30d", 30 * 86_400_000)


def read_slo(reader: FieldReader, node: MapNode, fields: Fields) -> Slo:
    """The SLO in ``fields``; every independent problem is reported before :class:`Invalid` is raised."""
    before = len(reader.problems)
    typo = reader.check_fields(fields, SLO_FIELDS, "an SLO")
    slo_id = reader.attempt(lambda: reader.identifier(fields["slo"][1], "slo"), "")
    objective = reader.attempt(lambda: _objective(reader, fields["objective"][1]), 0.0) \
        if "objective" in fields else None
    if objective is None and not typo:
        reader.fail(node, "missing field 'objective' (e.g. objective: 99%)")
    period = reader.attempt(lambda: _period(reader, fields), _DEFAULT_PERIOD)
    indicator = reader.attempt(lambda: _indicator(reader, node, fields, typo), None)
    metric, latency_below, errors = indicator if indicator else (None, None, None)
    no_actions: tuple[Action, ...] = ()
    actions = no_actions
    if "action" in fields:
        actions = reader.attempt(lambda: read_actions(reader, fields["action"][1], "action"), no_actions)
    elif not typo:
        reader.fail(node, "missing field 'action' (who is paged when the error budget burns fast)")
    ticket = reader.attempt(lambda: read_actions(reader, fields["ticket_action"][1], "ticket_action"),
                            no_actions) if "ticket_action" in fields else actions
    no_selector: tuple[tuple[str, str], ...] = ()
    selector = reader.attempt(lambda: read_selector(reader, fields["labels"][1], histogram=True, slo=True),
                              no_selector) if "labels" in fields else no_selector
    layer = reader.attempt(lambda: _layer(reader, fields, errors or metric), None)
    message = reader.attempt(lambda: reader.optional_text(fields, "message"), None)
    summary = reader.attempt(lambda: reader.optional_text(fields, "summary"), None)
    runbook = reader.attempt(lambda: reader.optional_link(fields, "runbook"), None)
    group = reader.attempt(lambda: reader.identifier(fields["group"][1], "group", GROUP), "") \
        if "group" in fields else reader.stem
    if len(reader.problems) != before or metric is None or objective is None:
        raise Invalid()
    return Slo(
        id=slo_id,
        source=node.location,
        objective=objective,
        period=period,
        metric=metric,
        latency_below=latency_below,
        errors=errors,
        layer=layer or (errors or metric).layer or "custom",
        selector=selector,
        message=message,
        summary=summary,
        runbook=runbook,
        group=group,
        actions=actions,
        ticket_actions=ticket,
    )


def _layer(reader: FieldReader, fields: Fields, metric: MetricDefinition | None) -> str | None:
    """``layer:`` is honoured: it must agree with the registry, and names the layer of a custom metric."""
    if "layer" not in fields:
        return None
    node = fields["layer"][1]
    layer = read_layer(reader, node)
    if metric is not None and metric.layer and metric.layer != "custom" and metric.layer != layer:
        raise reader.fail(node, f"{metric.name} belongs to layer {metric.layer!r} in the HMS metric registry; "
                                "drop the layer field")
    return layer


def _period(reader: FieldReader, fields: Fields) -> Duration:
    if "period" not in fields:
        return _DEFAULT_PERIOD
    period = reader.duration(fields["period"][1], "period")
    if period.ms < 3_600_000:
        raise reader.fail(fields["period"][1], f"period {period.text} is too short for burn-rate alerts; use 1h "
                                               "or more (30d is usual)")
    return period


def _indicator(reader: FieldReader, node: MapNode, fields: Fields, typo: bool
               ) -> tuple[MetricDefinition, float | None, MetricDefinition | None]:
    """(metric, latency threshold, error counter) from ``latency`` or ``errors``."""
    if ("latency" in fields) == ("errors" in fields):
        if typo and "latency" not in fields:
            raise Invalid()
        raise reader.fail(node, "an SLO needs exactly one of 'latency' (metric + below) or 'errors' "
                                "(metric + total)")
    if "latency" in fields:
        sub_node = fields["latency"][1]
        sub = reader.mapping(sub_node, "latency")
        if reader.check_fields(sub, ("metric", "type", "below"), "latency"):
            raise Invalid()
        metric = read_metric(reader, sub, sub_node)
        if metric.kind is not Kind.HISTOGRAM:
            raise reader.fail(sub["metric"][1], f"a latency SLO needs a histogram; {metric.name} is a "
                                                f"{metric.kind.value}")
        if "below" not in sub:
            raise reader.fail(sub_node, "latency needs 'below' (the threshold in the metric's unit, e.g. 2000)")
        return metric, _bucket(reader, sub["below"][1], metric), None
    sub_node = fields["errors"][1]
    sub = reader.mapping(sub_node, "errors")
    if reader.check_fields(sub, ("metric", "type", "total"), "errors"):
        raise Invalid()
    errors = reader.attempt(lambda: read_metric(reader, sub, sub_node), None)
    if errors is not None and errors.kind is not Kind.COUNTER:
        reader.fail(sub["metric"][1], f"errors must be a counter; {errors.name} is a {errors.kind.value}")
        errors = None
    if "total" not in sub:
        raise reader.fail(sub_node, "errors needs 'total': the counter or histogram of all events")
    total_node = sub["total"][1]
    metric = read_metric(reader, {"metric": sub["total"]}, total_node)
    if metric.kind not in (Kind.COUNTER, Kind.HISTOGRAM):
        raise reader.fail(total_node, f"total must be a counter or histogram; {metric.name} is a "
                                      f"{metric.kind.value}")
    if errors is None:
        raise Invalid()
    return metric, None, errors


def _objective(reader: FieldReader, node: Node) -> float:
    if not isinstance(node, Scalar) or node.is_null:
        raise reader.fail(node, f"objective must be a percentage like 99% or a fraction like 0.99, not "
                                f"{node.describe()}")
    text = node.text.strip()
    percent = text.endswith("%")

    def wrong(message: str) -> NodeError:
        return NodeError(node, f"objective {message}; write a percentage like 99% or a fraction like 0.99")

    number = reader.value_of(lambda: parse_decimal(text[:-1] if percent else text, wrong))
    if percent or 1 < number <= 100:
        number /= 100  # 99 means 99 %
    number = round(number, 10)  # 99.9 / 100 is 0.9990000000000001
    if not (math.isfinite(number) and 0 < number < 1):
        raise reader.fail(node, f"objective {shown(text)} must be between 0% and 100% (exclusive), e.g. 99.9%")
    return number


def _bucket(reader: FieldReader, node: Node, metric: MetricDefinition) -> float:
    if not isinstance(node, Scalar):
        raise reader.fail(node, f"below must be a number in {metric.name}'s unit, not {node.describe()}")

    def wrong(message: str) -> NodeError:
        return NodeError(node, f"below {message} (a number in {metric.name}'s unit)")

    number = reader.value_of(lambda: parse_decimal(node.text, wrong))
    buckets = buckets_of(metric)
    if buckets is not None and number not in buckets:
        near = sorted(buckets, key=lambda bound: abs(bound - number))[:2]
        raise reader.fail(node, f"{number:g} is not a bucket boundary of {metric.name}, so Prometheus cannot "
                                f"count requests below it; use {' or '.join(f'{b:g}' for b in sorted(near))}")
    return number


def buckets_of(metric: MetricDefinition) -> tuple[float, ...] | None:
    """Bucket boundaries the facades use for ``metric`` (``None`` when unknown)."""
    if metric.buckets is not None:
        return metric.buckets
    if metric.layer == "custom":
        return None
    if metric.unit == "ms":
        from hms_otel.contract import LATENCY_MS_BUCKETS

        return LATENCY_MS_BUCKETS
    return None
