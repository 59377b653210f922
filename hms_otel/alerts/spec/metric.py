"""The ``metric`` section (``metric``, ``type``, ``layer``) and the ``when`` condition on it."""

from __future__ import annotations

import difflib
import re

from hms_otel.alerts import promql
from hms_otel.alerts.model import Condition
from hms_otel.alerts.rules import value_unit
from hms_otel.alerts.spec.fields import FieldReader, Fields, Invalid
from hms_otel.alerts.syntax import SyntaxProblem, parse_when, shown
from hms_otel.registry import Kind, MetricDefinition, MetricNameError, check_name
from hms_otel.yamlfile import Node, Scalar

TYPES = {"counter": Kind.COUNTER, "gauge": Kind.GAUGE, "histogram": Kind.HISTOGRAM,
         "updowncounter": Kind.UPDOWN_COUNTER}
#: A layer is a name, never text a template engine or PromQL could read as code.
LAYER = re.compile(r"[A-Za-z][A-Za-z0-9 _.-]{0,63}", re.ASCII)


def read_layer(reader: FieldReader, node: Node) -> str:
    layer = reader.text(node, "layer", max_length=64)
    if not LAYER.fullmatch(layer):
        raise reader.fail(node, f"layer {shown(layer)} must be a name: letters, digits, spaces, '_', '.' and "
                                "'-', starting with a letter (e.g. ACH, payments)")
    return layer


def read_metric(reader: FieldReader, fields: Fields, where: Node, *, missing_ok: bool = False) -> MetricDefinition:
    """``metric`` (+ optional ``type``/``layer``) as a registry definition."""
    if "metric" not in fields:
        if missing_ok:  # an unknown field was reported; "missing" would only repeat the typo
            raise Invalid()
        raise reader.fail(where, "missing field 'metric' (a name from the HMS metric registry, "
                                 "e.g. payment_latency_ms)")
    node = fields["metric"][1]
    name = reader.text(node, "metric", max_length=255)
    try:
        check_name(name)
    except MetricNameError as error:
        raise reader.fail(node, str(error)) from None
    known = reader.registry.get(name)
    kind: Kind | None = None
    if "type" in fields:
        type_node = fields["type"][1]
        type_name = reader.text(type_node, "type", max_length=64)
        if type_name not in TYPES:
            raise reader.fail(type_node, f"type {shown(type_name)} is not one of {', '.join(TYPES)}")
        kind = TYPES[type_name]
        if known is not None and known.kind is not kind:
            raise reader.fail(type_node, f"{name} is a {known.kind.value} in the HMS metric registry, "
                                         f"not a {type_name}; drop the type field")
    layer = None
    if "layer" in fields:
        layer = read_layer(reader, fields["layer"][1])
        if known is not None and known.layer and layer != known.layer:
            raise reader.fail(fields["layer"][1], f"{name} belongs to layer {known.layer!r} in the HMS "
                                                  "metric registry; drop the layer field")
    if known is not None:
        return known
    if kind is None:
        close = difflib.get_close_matches(name, [d.name for d in reader.registry], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise reader.fail(node, f"unknown metric {name!r}: it is not in the HMS metric registry; add "
                                f"'type: counter|gauge|histogram|updowncounter' for a metric outside it.{hint}")
    return MetricDefinition(name, kind, layer=layer or "custom")


def read_when(reader: FieldReader, node: Node, metric: MetricDefinition) -> Condition:
    if not isinstance(node, Scalar) or node.is_null:
        raise reader.fail(node, f"when must be text like 'avg_over_30s > 2000', not {node.describe()}")
    value = node.text
    try:
        condition = parse_when(value)
    except SyntaxProblem as problem:
        hint = threshold_unit_hint(value, metric) if problem.message.startswith("threshold ") else ""
        raise reader.fail(node, problem.message + hint, problem.offset) from None
    problem_text = promql.aggregation_problem(metric.kind, condition.aggregation, metric.name)
    if problem_text:
        raise reader.fail(node, problem_text, value.find(condition.aggregation))
    problem_text = (promql.never_true_problem(metric.kind, condition, metric.name)
                    or promql.always_true_problem(metric.kind, condition, metric.name))
    if problem_text:
        raise reader.fail(node, problem_text, value.find(condition.op, value.find(condition.aggregation)))
    return condition


#: A number with a unit, as people write a threshold (``2s``, ``2000 ms``, ``5%``).
_WITH_UNIT = re.compile(r"[-+]?([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z%]+)", re.ASCII)
_IN_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def threshold_unit_hint(when: str, metric: MetricDefinition) -> str:
    """What to write instead of a threshold with a unit: ``'; ... write 2000'`` for ``> 2s`` on a ms metric.

    Without it, the fix people reach for is dropping the unit (``> 2``), which on a millisecond metric
    alerts on every call above 2 ms.
    """
    written = re.split(r"[<>=!]+", when, maxsplit=1)[-1].strip()
    match = _WITH_UNIT.fullmatch(written)
    if match is None:
        return ""
    number, unit = float(written[: match.start(2)].strip()), match.group(2)
    aggregation = when.strip().partition("_over_")[0]
    measured = value_unit(metric, aggregation) or ("ms" if metric.name.endswith("_ms") and aggregation not in (
        "rate", "count", "increase") else "")
    if unit in _IN_SECONDS and measured in _IN_SECONDS and measured != "m":
        converted = number * _IN_SECONDS[unit] / _IN_SECONDS[measured]
        return (f"; a threshold is a plain number in what {aggregation} of {metric.name} measures ({measured}): "
                f"write {promql.format_number(round(converted, 9))}")
    if unit == "%" and measured in ("", "1"):
        return f"; a ratio is a plain number: write {promql.format_number(round(number / 100, 12))} for {written}"
    shown_unit = f"({measured})" if measured else "(no unit)"
    return f"; a threshold is a plain number in what {aggregation} of {metric.name} measures {shown_unit}"
