"""The ``hms-ops`` command.

Subcommands live in their own modules and are imported only when used, so
``hms-ops --help`` stays fast and a broken optional part cannot break the rest.

Every command group runs under :class:`GuardedGroup`, the one place where
errors become what a user reads: each problem of a file as one
``file:line:col: message`` line, any other known error as one line, an exit
code, and never a traceback (``HMS_OPS_TRACEBACK=1`` shows it for a bug report).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import traceback
from typing import Any, NoReturn

import click

from hms_otel.errors import HmsError, ProblemsError, os_error_text
from hms_otel.terminal import output_checked

#: Exit codes: 1 for bad input or a failed check, 2 for usage (click), 70 for a bug, 130 for Ctrl-C.
EXIT_ERROR = 1
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


def fail(error: BaseException) -> NoReturn:
    """Print ``error`` the way users read errors and exit with its code."""
    if isinstance(error, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if isinstance(error, BrokenPipeError) and output_gone():
        # The reader of the output went away (`hms-ops status | head -1`): there is no one to tell, and click
        # itself exits 1 quietly then. The interpreter's last flush must not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    if isinstance(error, ProblemsError):
        for problem in error.problems:
            click.secho(str(problem), fg="red" if problem.is_error else "yellow", err=True)
        count = len(error.errors)
        click.echo(f"{count} error{'s' if count != 1 else ''}", err=True)
        sys.exit(EXIT_ERROR)
    if isinstance(error, HmsError):
        _line(str(error))
        sys.exit(EXIT_ERROR)
    if isinstance(error, OSError):
        _line(os_error_text(error))
        sys.exit(EXIT_ERROR)
    if isinstance(error, subprocess.SubprocessError):
        _line(str(error))
        sys.exit(EXIT_ERROR)
    if os.environ.get("HMS_OPS_TRACEBACK"):
        traceback.print_exception(error)
    _line(f"internal error: {type(error).__name__}: {error} (a bug in hms-ops; please report it with the "
          "command and the files it read; HMS_OPS_TRACEBACK=1 shows where)")
    sys.exit(EXIT_BUG)


def output_gone() -> bool:
    """True when standard output is a pipe or socket whose reader has gone (a write would fail with EPIPE)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no stdout (closed, replaced), no poll
        return False


def _line(text: str) -> None:
    lines = text.splitlines() or [""]
    click.secho(f"error: {lines[0]}", fg="red", err=True)
    for more in lines[1:]:
        click.secho(more, fg="red", err=True)


class GuardedGroup(click.Group):
    """A command group whose commands never end in a traceback (see :func:`fail`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except (Exception, KeyboardInterrupt) as error:
            fail(error)

#: subcommand name -> "module:attribute" of its click command.
SUBCOMMANDS: dict[str, str] = {
    "alerts": "hms_otel.alerts.cli:alerts",
    "collector": "hms_otel.stack.cli:collector",
    "dashboards": "hms_otel.dashboards.cli:dashboards",
    "down": "hms_otel.stack.cli:down",
    "hooks": "hms_otel.hooks.cli:hooks",
    "install": "hms_otel.stack.cli:install",
    "logs": "hms_otel.logs_cli:logs",
    "notifier": "hms_otel.notify.cli:notifier",
    "status": "hms_otel.stack.cli:status",
    "up": "hms_otel.stack.cli:up",
}


class _LazyGroup(GuardedGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        try:
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
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
    with output_checked():  # a closed stdout (`>&-`) is an error, not an exit 0 with nothing shown
        try:
            cli.main(prog_name="hms-ops")
        except (Exception, KeyboardInterrupt) as error:  # outside any command (e.g. while loading one)
            fail(error)


if __name__ == "__main__":
    main()
