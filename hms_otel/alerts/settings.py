"""Where alerts are delivered and how often data arrives: from the
environment, never from alert files (those are reviewed by many people and must
hold no secrets or gateway URLs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hms_otel.alerts.syntax import SyntaxProblem, parse_duration


class SettingsError(ValueError):
    """An environment variable holds something unusable."""


@dataclass(frozen=True)
class Settings:
    #: Webhook of the SMS gateway; ``?to=<number>`` is appended per receiver.
    sms_gateway_url: str = "http://127.0.0.1:9099/sms"
    #: Inline Slack webhook URL; when empty the URL is read by Alertmanager from ``slack_api_url_file``.
    slack_api_url: str = ""
    slack_api_url_file: str = "/etc/hms-ops/secrets/slack_api_url"
    #: teams name -> webhook URL of a Teams bridge (Alertmanager 0.25 has no msteams receiver).
    teams_urls: Mapping[str, str] = field(default_factory=dict)
    smtp_smarthost: str = "localhost:25"
    smtp_from: str = "hms-ops@localhost"
    smtp_require_tls: bool = True
    #: Directory holding one file per PagerDuty routing key name (``pagerduty/<name>``).
    secrets_dir: str = "/etc/hms-ops/secrets"
    #: Intervals used to warn about windows too short to hold a few samples.
    #: The HMS collector remote-writes to Prometheus, so a new sample arrives
    #: every SDK export (5 s); set HMS_SCRAPE_INTERVAL where Prometheus scrapes.
    scrape_interval_ms: int = 5_000
    export_interval_ms: int = 5_000
    group_wait: str = "10s"
    group_interval: str = "1m"
    repeat_interval: str = "4h"
    #: Names of settings that were not set and fell back to a default (for warnings).
    defaulted: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        defaulted: set[str] = set()

        def pick(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                defaulted.add(name)
                return default
            return value

        teams = {
            key[len("HMS_TEAMS_"):-len("_URL")].lower().replace("_", "-"): value
            for key, value in env.items()
            if key.startswith("HMS_TEAMS_") and key.endswith("_URL") and value.strip()
        }
        export_ms = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
        settings = replace(
            base,
            sms_gateway_url=pick("HMS_SMS_GATEWAY_URL", base.sms_gateway_url),
            slack_api_url=env.get("HMS_SLACK_API_URL", "").strip(),
            slack_api_url_file=pick("HMS_SLACK_API_URL_FILE", base.slack_api_url_file),
            teams_urls=teams,
            smtp_smarthost=pick("HMS_SMTP_SMARTHOST", base.smtp_smarthost),
            smtp_from=pick("HMS_SMTP_FROM", base.smtp_from),
            smtp_require_tls=env.get("HMS_SMTP_REQUIRE_TLS", "true").strip().lower() not in ("0", "false", "no"),
            secrets_dir=pick("HMS_SECRETS_DIR", base.secrets_dir),
            scrape_interval_ms=_interval(env, "HMS_SCRAPE_INTERVAL", base.scrape_interval_ms),
            export_interval_ms=int(export_ms) if export_ms.isdigit() else base.export_interval_ms,
            group_wait=_duration_text(env, "HMS_ALERT_GROUP_WAIT", base.group_wait),
        )
        return replace(settings, defaulted=frozenset(defaulted))


def _interval(env: Mapping[str, str], name: str, default_ms: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default_ms
    try:
        return parse_duration(value).ms
    except SyntaxProblem as problem:
        raise SettingsError(f"{name}={value!r}: {problem.message}") from None


def _duration_text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        parse_duration(value, allow_zero=True)
    except SyntaxProblem as problem:
        raise SettingsError(f"{name}={value!r}: {problem.message}") from None
    return value
