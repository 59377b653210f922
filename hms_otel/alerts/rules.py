"""Model -> Prometheus rule groups (and the prometheus-operator PrometheusRule).

One group per source file, in file order, so the output is deterministic and a
diff of ``rules.yml`` reads like a diff of the alert files.
"""

from __future__ import annotations

from typing import TypedDict

from typing_extensions import NotRequired

from hms_otel.alerts import slo as slo_math
from hms_otel.alerts.model import Alert, AlertFile, Slo
from hms_otel.alerts.promql import alert_expr, format_number
from hms_otel.alerts.syntax import format_duration, literal_template, message_template
from hms_otel.notify import alert as notify
from hms_otel.registry import Kind, MetricDefinition

#: Label the Alertmanager routes match on; its value is the alert's id.
ROUTING_LABEL = "hms_alert"


#: One alerting rule; ``for`` (a Python keyword, hence this form) only when it is not zero.
AlertingRule = TypedDict("AlertingRule", {
    "alert": str, "expr": str, "for": NotRequired[str], "labels": dict[str, str], "annotations": dict[str, str],
})


class RecordingRule(TypedDict):
    record: str
    expr: str
    labels: dict[str, str]


class RuleGroup(TypedDict):
    name: str
    rules: list[AlertingRule | RecordingRule]


class RulesFile(TypedDict):
    """What Prometheus reads from ``rules.yml``."""

    groups: list[RuleGroup]


def alert_labels(alert_id: str, severity: str, layer: str) -> dict[str, str]:
    """Rule labels. Prometheus expands templates in alerting-rule label values, so every value
    is made literal here even though the spec step already allows only names in them."""
    labels = {"severity": severity, "layer": layer, ROUTING_LABEL: alert_id}
    return {name: literal_template(value) for name, value in labels.items()}


def alert_rule(alert: Alert) -> AlertingRule:
    rule: AlertingRule = {"alert": alert.id, "expr": alert_expr(alert)}  # type: ignore[typeddict-item]
    if alert.for_ is not None and alert.for_.ms:
        rule["for"] = format_duration(alert.for_.ms)
    rule["labels"] = alert_labels(alert.id, alert.severity, alert.layer)
    rule["annotations"] = {**_annotations(alert.message, alert.summary, alert.runbook, str(alert.source)),
                           **notifier_annotations(alert)}
    return rule


#: The measured value, unformatted (6 significant digits): the only template the notifier's data uses.
VALUE_TEMPLATE = '{{ printf "%.6g" $value }}'


def value_unit(metric: MetricDefinition, aggregation: str) -> str:
    """The unit of what ``<aggregation>_over_<window>`` measures on ``metric`` (``/s`` for rates)."""
    if metric.kind is Kind.HISTOGRAM:
        if aggregation in ("count", "increase"):
            return ""
        return "/s" if aggregation == "rate" else metric.unit
    if aggregation == "rate":
        return f"{metric.unit}/s"
    return "" if aggregation == "count" else metric.unit


def notifier_annotations(alert: Alert) -> dict[str, str]:
    """What the notifier words its message from, as data (:mod:`hms_otel.notify.alert`).

    Every value is checked by the spec step (registry names, operators, numbers) or
    made literal, so no text from an alert file is ever executed as a template.
    """
    annotations = {notify.MESSAGE: literal_template(alert.message), notify.VALUE: VALUE_TEMPLATE}
    if alert.condition is None:
        window = alert.absent_for.ms if alert.absent_for else 300_000
        annotations[notify.WINDOW] = format_number(window / 1000)
        return annotations
    condition = alert.condition
    annotations.update({
        notify.METRIC: alert.metric.name,
        notify.OP: condition.op,
        notify.THRESHOLD: format_number(condition.threshold),
        notify.UNIT: value_unit(alert.metric, condition.aggregation),
        notify.WINDOW: format_number(condition.window.ms / 1000),
    })
    return annotations


def slo_notifier_annotations(slo: Slo) -> dict[str, str]:
    return {notify.MESSAGE: literal_template(slo_message(slo)), notify.VALUE: VALUE_TEMPLATE,
            notify.METRIC: f"{slo.id} SLO burn", notify.UNIT: "x", notify.WINDOW: "300"}


def slo_id(slo: Slo, severity: str) -> str:
    """Alert ids of an SLO: ``<slo>_page`` (fast burn) and ``<slo>_ticket`` (slow burn)."""
    return f"{slo.id}_{severity}"


def slo_message(slo: Slo) -> str:
    if slo.message:
        return slo.message
    return (f"{slo.id} SLO: error budget burning {{{{value}}}}x faster than allowed "
            f"(objective {slo.objective * 100:g}% over {slo.period.text})")


def slo_rules(slo: Slo) -> list[AlertingRule | RecordingRule]:
    rules: list[AlertingRule | RecordingRule] = list(slo_math.recording_rules(slo))
    for severity, level in (("page", "critical"), ("ticket", "warning")):
        labels = alert_labels(slo_id(slo, severity), level, slo.layer)
        labels["hms_slo"] = literal_template(slo.id)
        rules.append(AlertingRule(
            alert=slo_id(slo, severity),
            expr=slo_math.burn_expr(slo, severity),
            labels=labels,
            annotations={**_annotations(slo_message(slo), slo.summary, slo.runbook, str(slo.source)),
                         **slo_notifier_annotations(slo)},
        ))
    return rules


def _annotations(message: str, summary: str | None, runbook: str | None, source: str) -> dict[str, str]:
    annotations = {"message": message_template(message)}
    if summary:
        annotations["summary"] = message_template(summary)
    if runbook:
        annotations["runbook_url"] = literal_template(runbook)
    annotations["hms_source"] = literal_template(source)
    return annotations


def rule_group(source: AlertFile) -> RuleGroup:
    rules: list[AlertingRule | RecordingRule] = [alert_rule(alert) for alert in source.alerts]
    for slo in source.slos:
        rules.extend(slo_rules(slo))
    return RuleGroup(name=source.group, rules=rules)


def rule_groups(files: list[AlertFile]) -> RulesFile:
    return RulesFile(groups=[rule_group(source) for source in files])


def prometheus_rule(files: list[AlertFile], name: str = "hms-alerts", namespace: str | None = None
                    ) -> dict[str, object]:
    """The same groups as a prometheus-operator ``PrometheusRule`` resource."""
    metadata: dict[str, object] = {"name": name, "labels": {"app.kubernetes.io/part-of": "hms-otel"}}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": rule_groups(files),
    }


__all__ = ["ROUTING_LABEL", "AlertingRule", "RecordingRule", "RuleGroup", "RulesFile", "alert_rule", "format_number",
           "notifier_annotations", "prometheus_rule", "rule_groups", "slo_rules"]
