"""The ``hms-ops`` command.

Subcommands live in their own modules and are imported only when used, so
``hms-ops --help`` stays fast and a broken optional part cannot break the rest.
"""

from __future__ import annotations

import importlib
import sys

import click

#: subcommand name -> "module:attribute" of its click command.
SUBCOMMANDS: dict[str, str] = {
    "alerts": "hms_otel.alerts.cli:alerts",
    "collector": "hms_otel.stack.cli:collector",
    "down": "hms_otel.stack.cli:down",
    "hooks": "hms_otel.hooks.cli:hooks",
    "install": "hms_otel.stack.cli:install",
    "status": "hms_otel.stack.cli:status",
    "up": "hms_otel.stack.cli:up",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            return _unavailable(cmd_name, str(error))


def _unavailable(name: str, reason: str) -> click.Command:
    """A stand-in that lists in --help and explains itself when run."""

    def run() -> None:
        raise click.ClickException(f"'hms-ops {name}' is not available: {reason}")

    return click.Command(name, callback=run, help=f"(not available: {reason})")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "--version", "-V", package_name="hms-otel", prog_name="hms-ops")
def cli() -> None:
    """hms-ops: the HMS observability toolkit (collector, alerts, local stack)."""


def main() -> None:
    try:
        cli.main(prog_name="hms-ops")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
