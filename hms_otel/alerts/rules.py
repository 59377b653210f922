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
    rule["annotations"] = _annotations(alert.message, alert.summary, alert.runbook, str(alert.source))
    return rule


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
            annotations=_annotations(slo_message(slo), slo.summary, slo.runbook, str(slo.source)),
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
           "prometheus_rule", "rule_groups", "slo_rules"]
