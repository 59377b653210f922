"""Model -> Alertmanager configuration (0.25 and 0.31 read it alike).

Every distinct action becomes one receiver; each alert gets one route per
action, matching its ``hms_alert`` label with ``continue: true`` so an alert
reaches every receiver it names, with timing chosen by severity. SMS, Slack,
Teams and webhook receivers all post to the notifier (one wording everywhere,
the probable source, retries); its token is read from a file Alertmanager is
given. URLs and secrets come from :class:`~hms_otel.alerts.settings.Settings`,
never from alert files.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from urllib.parse import urlencode

from hms_otel.alerts.model import Action, AlertFile
from hms_otel.alerts.rules import ROUTING_LABEL, slo_id
from hms_otel.alerts.settings import Settings
from hms_otel.errors import Location, Problem
from hms_otel.notify.addresses import webhook_problem

#: Receives whatever no route matches (alerts not written in alert files).
DEFAULT_RECEIVER = "hms-unrouted"
_EMAIL_SUBJECT = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}'
_EMAIL_HTML = '{{ range .Alerts }}<p>{{ .Annotations.message }}</p>{{ end }}'


def _routes(files: list[AlertFile]) -> list[tuple[str, Action]]:
    """(alert id, action) in source order."""
    return [(alert_id, action) for alert_id, _severity, action in _routes_with_severity(files)]


def _routes_with_severity(files: list[AlertFile]) -> list[tuple[str, str, Action]]:
    triples: list[tuple[str, str, Action]] = []
    for source in files:
        for alert in source.alerts:
            triples.extend((alert.id, alert.severity, action) for action in alert.actions)
        for slo in source.slos:
            triples.extend((slo_id(slo, "page"), "critical", action) for action in slo.actions)
            triples.extend((slo_id(slo, "ticket"), "warning", action) for action in slo.ticket_actions)
    return triples


#: Channels the notifier delivers (every one with the same wording); email and PagerDuty stay with Alertmanager.
NOTIFIER_SCHEMES = ("sms", "slack", "teams", "webhook")


def notifier_url(settings: Settings, action: Action) -> str:
    query = urlencode({"channel": action.scheme, "target": action.target})
    return f"{settings.notifier_url}/v1/alerts?{query}"


def receiver(action: Action, settings: Settings, warnings: list[Problem]) -> dict[str, object]:
    config: dict[str, object] = {"name": action.receiver}
    where = action.location
    if action.scheme in NOTIFIER_SCHEMES:
        notifier = settings.notifier
        if notifier is not None and action.scheme != "webhook" and not notifier.destination(action.scheme,
                                                                                             action.target):
            _warn(warnings, where, f"{action.receiver} has no configured destination: the notifier only prints "
                                   f"it locally; {notifier.how_to_configure(action.scheme, action.target)}")
        config["webhook_configs"] = [{
            "url": notifier_url(settings, action),
            "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials_file": settings.notifier_token_file}},
        }]
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


def address_problems(files: list[AlertFile], settings: Settings) -> list[Problem]:
    """``webhook:`` actions aimed at this machine or a private network (unless the operator allows the host)."""
    problems = []
    for _alert_id, action in _routes(files):
        if action.scheme == "webhook":
            problem = webhook_problem(action.target, settings.webhook_allowed_hosts)
            if problem:
                problems.append(Problem(action.location, problem))
    return problems


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
    routes = []
    for alert_id, severity, action in _routes_with_severity(files):
        group_wait, group_interval, repeat_interval = settings.timing(severity)
        routes.append({
            "matchers": [f"{ROUTING_LABEL}={json.dumps(alert_id)}"],
            "receiver": action.receiver,
            "continue": True,
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        })
    global_config: dict[str, object] = {"resolve_timeout": "5m"}
    if any(action.scheme == "email" for _id, action in pairs):
        global_config.update(smtp_smarthost=settings.smtp_smarthost, smtp_from=settings.smtp_from,
                             smtp_require_tls=settings.smtp_require_tls)
    inhibit = inhibit_rules(files)
    config: dict[str, object] = {
        "global": global_config,
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", ROUTING_LABEL],
            "group_wait": settings.timing("warning")[0],
            "group_interval": settings.timing("warning")[1],
            "repeat_interval": settings.timing("warning")[2],
            "routes": routes,
        },
        "receivers": list(receivers.values()),
    }
    if inhibit:
        config["inhibit_rules"] = inhibit
    return AlertmanagerOutput(config, tuple(warnings))


def inhibit_rules(files: list[AlertFile]) -> list[dict[str, object]]:
    """An SLO's page silences its ticket while both fire: a budget burning fast enough to page also burns
    it over the ticket's slower windows (at 14.4x, after 5 h), and the people paged got the same
    news on the ticket's channel as well, for the whole incident."""
    return [{"source_matchers": [f"{ROUTING_LABEL}={json.dumps(slo_id(slo, 'page'))}"],
             "target_matchers": [f"{ROUTING_LABEL}={json.dumps(slo_id(slo, 'ticket'))}"],
             "equal": ["hms_slo"]}
            for source in files for slo in source.slos]
