"""Where alerts are delivered and how often data arrives: from the
environment (and the notifier config file named by HMS_NOTIFIER_CONFIG), never
from alert files (those are reviewed by many people and must hold no secrets or
gateway URLs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hms_otel.alerts.syntax import SyntaxProblem, parse_duration
from hms_otel.errors import HmsError
from hms_otel.notify.addresses import url_problem
from hms_otel.notify.config import ConfigError as NotifierConfigError
from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.config import load as load_notifier_config


class SettingsError(HmsError, ValueError):
    """An environment variable holds something unusable."""


#: Alertmanager timing per severity: (group_wait, group_interval, repeat_interval).
#: A page goes out as soon as Alertmanager has it; reminders hourly at most. Warnings wait
#: 30 s to gather related alerts into one message; info is a digest.
SEVERITY_TIMING: dict[str, tuple[str, str, str]] = {
    "critical": ("0s", "30s", "1h"),
    "warning": ("30s", "5m", "4h"),
    "info": ("1m", "10m", "12h"),
}


@dataclass(frozen=True)
class Settings:
    #: The notifier Alertmanager posts every sms/slack/teams/webhook alert to.
    notifier_url: str = "http://127.0.0.1:9095"
    #: File holding the notifier's shared token (Alertmanager reads it: ``credentials_file``).
    notifier_token_file: str = "/etc/hms-ops/secrets/notifier_token"
    #: Where the notifier sends each channel, to warn about channels that only print locally.
    #: ``None``: unknown here (the notifier runs elsewhere); no warnings then.
    notifier: NotifierConfig | None = None
    #: Hosts ``webhook:`` actions may reach although they are loopback/private.
    webhook_allowed_hosts: tuple[str, ...] = ()
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
    #: Set: every severity uses it (tests, HMS_ALERT_GROUP_WAIT); empty: SEVERITY_TIMING.
    group_wait: str = ""
    group_interval: str = ""
    repeat_interval: str = ""
    #: Names of settings that were not set and fell back to a default (for warnings).
    defaulted: frozenset[str] = frozenset()

    def timing(self, severity: str) -> tuple[str, str, str]:
        wait, interval, repeat = SEVERITY_TIMING.get(severity, SEVERITY_TIMING["warning"])
        return (self.group_wait or wait, self.group_interval or interval, self.repeat_interval or repeat)

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

        try:
            config_file = env.get("HMS_NOTIFIER_CONFIG", "").strip()
            notifier = load_notifier_config(Path(config_file) if config_file else None, env, read_token=False)
        except NotifierConfigError as error:
            raise SettingsError(str(error)) from None
        export_ms = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
        settings = replace(
            base,
            notifier_url=_url(pick("HMS_NOTIFIER_URL", base.notifier_url), "HMS_NOTIFIER_URL").rstrip("/"),
            notifier_token_file=pick("HMS_NOTIFIER_TOKEN_FILE", base.notifier_token_file),
            notifier=notifier,
            webhook_allowed_hosts=notifier.webhook_allowed_hosts,
            smtp_smarthost=pick("HMS_SMTP_SMARTHOST", base.smtp_smarthost),
            smtp_from=pick("HMS_SMTP_FROM", base.smtp_from),
            smtp_require_tls=env.get("HMS_SMTP_REQUIRE_TLS", "true").strip().lower() not in ("0", "false", "no"),
            secrets_dir=pick("HMS_SECRETS_DIR", base.secrets_dir),
            scrape_interval_ms=_interval(env, "HMS_SCRAPE_INTERVAL", base.scrape_interval_ms),
            export_interval_ms=(int(export_ms) if export_ms.isascii() and export_ms.isdigit()
                                else base.export_interval_ms),
            group_wait=_duration_text(env, "HMS_ALERT_GROUP_WAIT", base.group_wait),
        )
        return replace(settings, defaulted=frozenset(defaulted))


def _url(value: str, name: str) -> str:
    """``value`` if Alertmanager can post to it. Checked here, a bad setting is named as such; taken,
    amtool's complaint about the generated receiver was reported at an alert file's action line.
    The value is not shown: it may hold a password."""
    problem = url_problem(value)
    if problem is not None:
        raise SettingsError(f"{name} must be a URL starting with https:// or http:// ({problem})")
    return value


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
