"""``hms-ops hooks check``: validate hook files before a service loads them.

Instrumentors only log a bad hook file (a service must still start); this
command fails loudly instead, so CI can catch the mistake.
"""

from __future__ import annotations

import click
from opentelemetry.metrics import NoOpMeter

from hms_otel.cli import GuardedGroup
from hms_otel.hooks import engine, spec
from hms_otel.hooks.spec import HookConfigError


@click.group(cls=GuardedGroup)
def hooks() -> None:
    """Configuration-driven instrumentation (hook files)."""


@hooks.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--no-import", is_flag=True, help="Check the files only; do not import the targets.")
def check(files: tuple[str, ...], no_import: bool) -> None:
    """Check hook FILES: structure, sources and (unless --no-import) that every target exists."""
    failed = False
    for path in files:
        try:
            loaded = spec.load_file(path)
            if not no_import:
                # Installing on a no-op meter resolves targets and sources the way
                # the instrumentor will; it is taken off again straight away.
                engine.install(loaded, NoOpMeter("hms_otel.hooks.check"), where=path).remove()
        except HookConfigError as error:
            failed = True
            click.echo(str(error), err=True)
            continue
        records = sum(len(hook.record) for hook in loaded)
        click.echo(f"{path}: ok, {len(loaded)} hooks, {records} records")
    if failed:
        raise SystemExit(1)
