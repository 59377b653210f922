"""One alert: a condition on a metric (or its absence), who is told, and what they read."""

from __future__ import annotations

from hms_otel.alerts import promql
from hms_otel.alerts.model import Action, Alert, Condition, Duration
from hms_otel.alerts.spec.actions import PAGING_SCHEMES, read_actions
from hms_otel.alerts.spec.fields import GROUP, FieldReader, Fields, Invalid
from hms_otel.alerts.spec.labels import read_selector
from hms_otel.alerts.spec.metric import read_metric, read_when
from hms_otel.alerts.syntax import shown
from hms_otel.registry import Kind, MetricDefinition
from hms_otel.yamlfile import MapNode

ALERT_FIELDS = (
    "name", "metric", "type", "layer", "when", "absent_for", "for", "severity",
    "labels", "message", "summary", "runbook", "group", "action",
)
SEVERITIES = ("critical", "warning", "info")


def read_alert(reader: FieldReader, node: MapNode, fields: Fields, default_id: str) -> Alert:
    """The alert in ``fields``; every problem is reported before :class:`Invalid` is raised."""
    before = len(reader.problems)
    typo = reader.check_fields(fields, ALERT_FIELDS, "an alert")
    alert_id = reader.attempt(lambda: reader.identifier(fields["name"][1], "name"), default_id) \
        if "name" in fields else default_id
    metric = reader.attempt(lambda: read_metric(reader, fields, node, missing_ok=typo), None)
    condition: Condition | None = None
    absent_for: Duration | None = None
    if "when" in fields and "absent_for" in fields:
        reader.fail(fields["absent_for"][0], "use either 'when' or 'absent_for', not both")
    elif "when" in fields:
        if metric is not None:
            condition = reader.attempt(lambda: read_when(reader, fields["when"][1], metric), None)
    elif "absent_for" in fields:
        absent_for = reader.attempt(lambda: reader.duration(fields["absent_for"][1], "absent_for"), None)
    elif not typo:
        reader.fail(node, "missing field 'when' (e.g. when: avg_over_30s > 2000) or 'absent_for' "
                          "(e.g. absent_for: 5m)")
    for_ = reader.attempt(lambda: reader.duration(fields["for"][1], "for", allow_zero=True), None) \
        if "for" in fields else None
    actions: tuple[Action, ...] = ()
    if "action" in fields:
        actions = reader.attempt(lambda: read_actions(reader, fields["action"][1], "action"), ())
    elif not typo:
        reader.fail(node, "missing field 'action' (e.g. action: sms:+15551234)")
    severity = reader.attempt(lambda: _severity(reader, fields, actions), "warning")
    histogram = metric is not None and metric.kind is Kind.HISTOGRAM
    no_selector: tuple[tuple[str, str], ...] = ()
    selector = reader.attempt(lambda: read_selector(reader, fields["labels"][1], histogram=histogram),
                              no_selector) if "labels" in fields else no_selector
    message = reader.attempt(lambda: reader.optional_text(fields, "message"), None)
    summary = reader.attempt(lambda: reader.optional_text(fields, "summary"), None)
    runbook = reader.attempt(lambda: reader.optional_link(fields, "runbook"), None)
    group = reader.attempt(lambda: reader.identifier(fields["group"][1], "group", GROUP), "") \
        if "group" in fields else reader.stem
    if len(reader.problems) != before or metric is None:
        raise Invalid()
    return Alert(
        id=alert_id,
        source=node.location,
        metric=metric,
        condition=condition,
        absent_for=absent_for,
        for_=for_,
        severity=severity,
        layer=metric.layer or "custom",
        selector=selector,
        message=message or default_message(metric, condition, absent_for),
        summary=summary,
        runbook=runbook,
        group=group,
        actions=actions,
    )


def _severity(reader: FieldReader, fields: Fields, actions: tuple[Action, ...]) -> str:
    if "severity" not in fields:
        return "critical" if any(a.scheme in PAGING_SCHEMES for a in actions) else "warning"
    node = fields["severity"][1]
    value = reader.text(node, "severity", max_length=100)
    if value not in SEVERITIES:
        raise reader.fail(node, f"severity {shown(value)} is not one of {', '.join(SEVERITIES)}")
    return value


def default_message(metric: MetricDefinition, condition: Condition | None, absent_for: Duration | None) -> str:
    if condition is None:
        return f"{metric.name}: no data for {absent_for.text if absent_for else '?'}"
    unit = f" {metric.unit}" if metric.unit and not metric.unit.startswith("{") else ""
    return (f"{metric.name} {condition.aggregation} over {condition.window.text} is {{{{value}}}}{unit} "
            f"({condition.op} {promql.format_number(condition.threshold)})")
