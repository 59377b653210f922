"""``hms-ops notifier --config FILE``: the notifier on its own, next to any Alertmanager."""

from __future__ import annotations

from pathlib import Path

import click

from hms_otel.notify.config import ConfigError, load


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Notifier settings (YAML); the environment overrides it.")
@click.option("--alerts", "alert_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Alert files, to say at start which of their channels are live and which print here.")
def notifier(config_path: Path | None, alert_dir: Path | None) -> None:
    """Receive Alertmanager webhooks and deliver them by SMS, Teams, Slack or webhook (Ctrl-C stops)."""
    from hms_otel.notify.server import run

    try:
        config = load(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if not config.token:
        raise click.ClickException("the notifier needs a shared token: set HMS_NOTIFIER_TOKEN, "
                                   "HMS_NOTIFIER_TOKEN_FILE or token_file in its config")
    actions: list[tuple[str, str]] = []
    if alert_dir is not None and alert_dir.is_dir():
        from hms_otel.alerts.compiler import load_dir

        files, _problems = load_dir(alert_dir)
        seen = set()
        for source in files:
            for alert in source.alerts:
                for action in alert.actions:
                    if action.scheme != "email" and action.scheme != "pagerduty" and action.receiver not in seen:
                        seen.add(action.receiver)
                        actions.append((action.scheme, action.target))
    run(config, actions)
