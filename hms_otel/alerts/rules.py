"""Model -> Prometheus rule groups (and the prometheus-operator PrometheusRule).

One group per source file, in file order, so the output is deterministic and a
diff of ``rules.yml`` reads like a diff of the alert files.
"""

from __future__ import annotations

from hms_otel.alerts import slo as slo_math
from hms_otel.alerts.model import Alert, AlertFile, Slo
from hms_otel.alerts.promql import alert_expr, format_number
from hms_otel.alerts.syntax import format_duration, literal_template, message_template

#: Label the Alertmanager routes match on; its value is the alert's id.
ROUTING_LABEL = "hms_alert"


def alert_labels(alert_id: str, severity: str, layer: str) -> dict[str, str]:
    return {"severity": severity, "layer": layer, ROUTING_LABEL: alert_id}


def alert_rule(alert: Alert) -> dict[str, object]:
    rule: dict[str, object] = {"alert": alert.id, "expr": alert_expr(alert)}
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


def slo_rules(slo: Slo) -> list[dict[str, object]]:
    rules = slo_math.recording_rules(slo)
    for severity, level in (("page", "critical"), ("ticket", "warning")):
        labels = alert_labels(slo_id(slo, severity), level, slo.layer)
        labels["hms_slo"] = slo.id
        rules.append({
            "alert": slo_id(slo, severity),
            "expr": slo_math.burn_expr(slo, severity),
            "labels": labels,
            "annotations": _annotations(slo_message(slo), slo.summary, slo.runbook, str(slo.source)),
        })
    return rules


def _annotations(message: str, summary: str | None, runbook: str | None, source: str) -> dict[str, str]:
    annotations = {"message": message_template(message)}
    if summary:
        annotations["summary"] = message_template(summary)
    if runbook:
        annotations["runbook_url"] = literal_template(runbook)
    annotations["hms_source"] = literal_template(source)
    return annotations


def rule_group(source: AlertFile) -> dict[str, object]:
    rules: list[dict[str, object]] = [alert_rule(alert) for alert in source.alerts]
    for slo in source.slos:
        rules.extend(slo_rules(slo))
    return {"name": source.group, "rules": rules}


def rule_groups(files: list[AlertFile]) -> dict[str, object]:
    return {"groups": [rule_group(source) for source in files]}


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


__all__ = ["ROUTING_LABEL", "alert_rule", "format_number", "prometheus_rule", "rule_groups", "slo_rules"]
