"""Model -> Alertmanager 0.25 configuration.

Every distinct action becomes one receiver; each alert gets one route per
action, matching its ``hms_alert`` label with ``continue: true`` so an alert
reaches every receiver it names. URLs and secrets come from
:class:`~hms_otel.alerts.settings.Settings`, never from alert files.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from urllib.parse import quote

from hms_otel.alerts.model import Action, AlertFile
from hms_otel.alerts.rules import ROUTING_LABEL, slo_id
from hms_otel.alerts.settings import Settings
from hms_otel.errors import Location, Problem

#: Receives whatever no route matches (alerts not written in alert files).
DEFAULT_RECEIVER = "hms-unrouted"
_SLACK_TEXT = '{{ range .Alerts }}{{ .Annotations.message }}\n{{ end }}'
_EMAIL_SUBJECT = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}'
_EMAIL_HTML = '{{ range .Alerts }}<p>{{ .Annotations.message }}</p>{{ end }}'


def _routes(files: list[AlertFile]) -> list[tuple[str, Action]]:
    """(alert id, action) in source order."""
    pairs: list[tuple[str, Action]] = []
    for source in files:
        for alert in source.alerts:
            pairs.extend((alert.id, action) for action in alert.actions)
        for slo in source.slos:
            pairs.extend((slo_id(slo, "page"), action) for action in slo.actions)
            pairs.extend((slo_id(slo, "ticket"), action) for action in slo.ticket_actions)
    return pairs


def receiver(action: Action, settings: Settings, warnings: list[Problem]) -> dict[str, object]:
    config: dict[str, object] = {"name": action.receiver}
    where = action.location
    if action.scheme == "sms":
        if "HMS_SMS_GATEWAY_URL" in settings.defaulted:
            _warn(warnings, where, f"HMS_SMS_GATEWAY_URL is not set; {action.receiver} goes to "
                                   f"{settings.sms_gateway_url}")
        separator = "&" if "?" in settings.sms_gateway_url else "?"
        url = f"{settings.sms_gateway_url}{separator}to={quote(action.target, safe='')}"
        config["webhook_configs"] = [{"url": url, "send_resolved": False}]
    elif action.scheme == "webhook":
        config["webhook_configs"] = [{"url": action.target, "send_resolved": True}]
    elif action.scheme == "teams":
        teams_url = settings.teams_urls.get(action.target.lower())
        if teams_url:
            url = teams_url
        else:
            variable = f"HMS_TEAMS_{action.target.upper().replace('-', '_')}_URL"
            url = f"http://127.0.0.1:9/{variable}-is-not-set"
            _warn(warnings, where, f"{variable} is not set; {action.receiver} cannot deliver until it is")
        # Alertmanager 0.25 has no msteams_configs: post to a Teams bridge through a webhook.
        config["webhook_configs"] = [{"url": url, "send_resolved": True}]
    elif action.scheme == "slack":
        slack: dict[str, object] = {"channel": action.target, "send_resolved": True, "text": _SLACK_TEXT}
        if settings.slack_api_url:
            slack["api_url"] = settings.slack_api_url
        else:
            slack["api_url_file"] = settings.slack_api_url_file
        config["slack_configs"] = [slack]
    elif action.scheme == "email":
        if "HMS_SMTP_SMARTHOST" in settings.defaulted:
            _warn(warnings, where, f"HMS_SMTP_SMARTHOST is not set; {action.receiver} uses "
                                   f"{settings.smtp_smarthost}")
        config["email_configs"] = [{"to": action.target, "send_resolved": True,
                                    "headers": {"Subject": _EMAIL_SUBJECT}, "html": _EMAIL_HTML}]
    elif action.scheme == "pagerduty":
        key_file = posixpath.join(settings.secrets_dir, "pagerduty", action.target)
        config["pagerduty_configs"] = [{"routing_key_file": key_file, "send_resolved": True}]
    else:  # pragma: no cover - the spec step rejects other schemes
        raise ValueError(f"unknown action scheme {action.scheme!r}")
    return config


def _warn(warnings: list[Problem], where: Location, message: str) -> None:
    problem = Problem(where, message, "warning")
    if all(existing.message != message for existing in warnings):
        warnings.append(problem)


@dataclass(frozen=True)
class AlertmanagerOutput:
    """The generated configuration (what ``alertmanager.yml`` holds) and the warnings about it."""

    config: dict[str, object]
    warnings: tuple[Problem, ...] = ()


def alertmanager_config(files: list[AlertFile], settings: Settings) -> AlertmanagerOutput:
    warnings: list[Problem] = []
    pairs = _routes(files)
    receivers: dict[str, dict[str, object]] = {DEFAULT_RECEIVER: {"name": DEFAULT_RECEIVER}}
    for _alert_id, action in pairs:
        if action.receiver not in receivers:
            receivers[action.receiver] = receiver(action, settings, warnings)
    routes = [
        {
            "matchers": [f"{ROUTING_LABEL}={json.dumps(alert_id)}"],
            "receiver": action.receiver,
            "continue": True,
        }
        for alert_id, action in pairs
    ]
    global_config: dict[str, object] = {"resolve_timeout": "5m"}
    if any(action.scheme == "email" for _id, action in pairs):
        global_config.update(smtp_smarthost=settings.smtp_smarthost, smtp_from=settings.smtp_from,
                             smtp_require_tls=settings.smtp_require_tls)
    config: dict[str, object] = {
        "global": global_config,
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", ROUTING_LABEL],
            "group_wait": settings.group_wait,
            "group_interval": settings.group_interval,
            "repeat_interval": settings.repeat_interval,
            "routes": routes,
        },
        "receivers": list(receivers.values()),
    }
    return AlertmanagerOutput(config, tuple(warnings))
