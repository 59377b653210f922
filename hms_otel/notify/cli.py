"""``hms-ops notifier --config FILE``: the notifier on its own, next to any Alertmanager."""

from __future__ import annotations

from pathlib import Path

import click

from hms_otel.notify.config import ConfigError


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Notifier settings (YAML); the environment overrides it.")
@click.option("--alerts", "alert_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Alert files, to say at start which of their channels are live and which print here.")
def notifier(config_path: Path | None, alert_dir: Path | None) -> None:
    """Receive Alertmanager webhooks and deliver them by SMS, Teams, Slack or webhook (Ctrl-C stops)."""
    from hms_otel.notify.server import serve

    try:
        serve(config_path, notified_actions(alert_dir) if alert_dir is not None else [])
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def notified_actions(alert_dir: Path) -> list[tuple[str, str]]:
    """(channel, target) of every action in ``alert_dir`` that goes through the notifier, once each."""
    from hms_otel.alerts.alertmanager import NOTIFIER_SCHEMES
    from hms_otel.alerts.compiler import load_dir

    if not alert_dir.is_dir():
        return []
    files, _problems = load_dir(alert_dir)
    actions: list[tuple[str, str]] = []
    for source in files:
        every = [a for alert in source.alerts for a in alert.actions]
        every += [a for slo in source.slos for a in (*slo.actions, *slo.ticket_actions)]
        for action in every:
            if action.scheme in NOTIFIER_SCHEMES and (action.scheme, action.target) not in actions:
                actions.append((action.scheme, action.target))
    return actions
