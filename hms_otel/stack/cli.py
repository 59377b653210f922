"""``hms-ops collector ...``, ``hms-ops install ...`` and ``hms-ops up``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from hms_otel.envoption import EnvOption
from hms_otel.errors import os_error_text
from hms_otel.stack import builds, state
from hms_otel.stack.localstack import STANDARD_PORTS, Ports, port_option
from hms_otel.stack.processes import process_start_ticks
from hms_otel.stack.services import validate_collector_config
from hms_otel.stack.up import (
    DEMO_CALM_S,
    EVALUATION_INTERVAL,
    KNOWN_ERRORS,
    SCRAPE_INTERVAL,
    UpOptions,
    _port,
    error_text,
    interrupt,
    is_duration,
    is_interval,
)
from hms_otel.stack.up import run as run_up
from hms_otel.terminal import safe_name

# rich is imported only by the commands that draw progress (install, build): `hms-ops up` stays a
# small process at rest and its plain output never truncates a URL when there is no terminal.


@contextlib.contextmanager
def _clean_errors() -> Iterator[None]:
    """Known failures become one clear message and exit code 1, not a traceback."""
    try:
        yield
    except BrokenPipeError:
        raise  # the output's reader went away: hms_otel.cli.fail ends quietly if so
    except KNOWN_ERRORS as error:
        raise click.ClickException(error_text(error)) from None


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a CI timeout, a process manager) stops a build as Ctrl-C does: the programs of its step
    are stopped and its scratch folders removed, instead of the build running on, orphaned."""
    import signal

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _progress(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner showing the current step; each step is also printed so the log reads as a history."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    with console.status(title) as status:

        def report(message: str) -> None:
            console.print(f"[cyan]•[/] {message}", markup=True)
            status.update(message)

        yield report


# -- hms-ops collector ---------------------------------------------------------------------------------------


@click.group()
def collector() -> None:
    """Build and check the hms-otelcol collector distribution."""


@collector.command()
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="ocb manifest (default: collector-config/builder-config.yaml).",
)
@click.option("--force", is_flag=True, help="Rebuild even if the cache has this manifest's binary.")
def build(manifest: Path | None, force: bool) -> None:
    """Build hms-otelcol with ocb; cached per machine, keyed by the manifest's content."""
    with _clean_errors(), _sigterm_as_ctrl_c(), _progress("building hms-otelcol") as progress:
        started = time.monotonic()
        path = builds.build_collector(manifest, progress, force=force)
        progress(f"done in {time.monotonic() - started:.0f} s")
    click.echo(path)


@collector.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def validate(config: Path) -> None:
    """Validate CONFIG with `hms-otelcol validate` (env vars resolved from the current environment)."""
    with _clean_errors():
        validate_collector_config(config)
    click.echo(f"{config}: valid")


@collector.command()
@click.option("--write", is_flag=True, help="Rewrite the generated transform/pii block of each CONFIG.")
@click.argument("configs", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def pii(write: bool, configs: tuple[Path, ...]) -> None:
    """Print the PII-masking processors generated from hms_otel/pii.py, or --write them into CONFIGS."""
    from hms_otel import pii as rule

    if not write:
        click.echo(rule.generated_block(""), nl=False)
    for config in configs:
        try:
            changed = rule.write(config)
        except ValueError:
            raise click.ClickException(f"{config}: no `{rule.BEGIN}` / `{rule.END}` lines to write between") from None
        click.echo(f"{config}: {'updated' if changed else 'up to date'}")


@collector.command()
def path() -> None:
    """Print the path of the built collector (fails with the build hint if it is not built)."""
    with _clean_errors():
        click.echo(builds.find_binary("hms-otelcol"))


# -- hms-ops install -----------------------------------------------------------------------------------------

_TARGETS = ("debian", "collector", "alertmanager", "victoria-logs", "uplot")


@click.command()
@click.argument("targets", nargs=-1, type=click.Choice([*_TARGETS, "all"]))
@click.option("--force", is_flag=True, help="Build or fetch the chosen targets again even if the cache has them "
              "(Debian's packages are left to apt-get).")
def install(targets: tuple[str, ...], force: bool) -> None:
    """Install everything the local stack runs (default: all). Idempotent: done steps are skipped.

    \b
    debian         Prometheus, promtool (apt-get; as root, or with sudo)
    collector      hms-otelcol built with ocb (needs Go)
    alertmanager   Alertmanager and amtool v0.31.1 built from their Go module
    victoria-logs  VictoriaLogs (the local log store) built from its Go module
    uplot          the dashboard's charting library (npm pack, integrity-checked)

    Builds go into ~/.cache/hms-ops (HMS_OPS_CACHE), keyed by version and manifest, and are shared by every
    checkout; a cached binary that is missing or damaged is built again.
    """
    from hms_otel.dashboards.uplot import install_uplot

    chosen = _TARGETS if not targets or "all" in targets else tuple(t for t in _TARGETS if t in targets)
    steps: dict[str, Callable[[Callable[[str], None]], object]] = {
        "debian": lambda progress: builds.install_debian(progress),
        "collector": lambda progress: builds.build_collector(progress=progress, force=force),
        "alertmanager": lambda progress: builds.build_alertmanager(progress=progress, force=force),
        "victoria-logs": lambda progress: builds.build_victorialogs(progress=progress, force=force),
        "uplot": lambda progress: install_uplot(progress, force=force),
    }
    with _clean_errors(), _sigterm_as_ctrl_c(), _progress("installing") as progress:
        for target in chosen:
            started = time.monotonic()
            steps[target](progress)
            progress(f"{target}: ok ({time.monotonic() - started:.0f} s)")


def _checked_folder(option: Path | None) -> Path:
    """The state folder, resolved; one that is a file (or under one) or a link that loops is named with the
    setting that chose it."""
    try:
        return state.checked_folder(state.state_dir(option), state.chosen_by(option))
    except state.StateFolderError as error:
        raise click.ClickException(str(error)) from None


def _check_state_file(directory: Path) -> None:
    """A damaged state file is named, with the `hms-ops up` still holding the state if there is one."""
    try:
        state.read_checked(directory)
    except state.StateFileError as error:
        holder = state.lock_holder(directory)
        running = (f"; hms-ops up (PID {holder}) still runs with this state: `hms-ops down` stops it"
                   if holder is not None else "")
        raise click.ClickException(f"{error}{running}") from None


# -- hms-ops up / status / down --------------------------------------------------------------------------------

_STATE_OPTION = click.option(
    "--state",
    "state_option",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State folder: configs, data, logs and PIDs of the stack [env HMS_OPS_STATE; default ./.hms-ops].",
)


def _duration(_context: click.Context, _param: click.Parameter, seconds: float) -> float:
    if not is_duration(seconds):
        raise click.BadParameter(f"{seconds:g} is not a number of seconds (0 or more)")
    return seconds


def _folder(_context: click.Context, _param: click.Parameter, path: Path | None) -> Path | None:
    # click.Path(file_okay=False) refuses only regular files: a device or a pipe (/dev/null) passed, and was
    # "watched" for alerts that could never be there. The plain parser (up._value) asks isdir() too.
    if path is not None and not path.is_dir():
        raise click.BadParameter(f"{safe_name(str(path))} is not a folder")
    return path


def _interval(_context: click.Context, _param: click.Parameter, text: str) -> str:
    if not is_interval(text):
        raise click.BadParameter(f"{text!r} is not a Prometheus duration above zero (e.g. 5s, 1m, 500ms)")
    return text


class _PortNumber(click.types.IntParamType):  # not ParamType[int]: click 8.1 has no generic ParamType
    """A port, 1-65535, read as the plain parser reads it (up._port), so both take exactly the same values."""

    name = "port"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if type(value) is int:  # the default
            return value
        port = _port(str(value))
        if port is None:
            self.fail(f"{value!r} is not a port number (1-65535)", param, ctx)
        return port


def _port_options(func: Callable[..., None]) -> Callable[..., None]:
    for name in reversed(Ports._fields):
        option, variable = port_option(name)
        func = click.option(
            option,
            name + "_port",
            cls=EnvOption,
            type=_PortNumber(),
            default=getattr(STANDARD_PORTS, name),
            show_default=True,
            envvar=variable,
            help=f"Port for {name.replace('_', ' ')} (env {variable}).",
        )(func)
    return func


@click.command()
@_STATE_OPTION
@click.option(
    "--config",
    "collector_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Collector config (default: the shipped local.yaml).",
)
@click.option(
    "--alerts",
    "alert_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    callback=_folder,
    help="Alert folder to compile and hot-reload [default: ./alerts or ./alert_rules, whichever exists].",
)
@click.option("--examples", is_flag=True, help="Load the project's example alerts (what --demo does).")
@click.option("--detach", is_flag=True, help="Return once the stack is ready; `hms-ops down` stops it.")
@click.option("--fresh", is_flag=True, help="Start from empty data: deletes the components' folders in the state.")
@click.option("--no-logs", is_flag=True, help="Metrics and alerts only: no log store.")
@click.option("--scrape-interval", default=SCRAPE_INTERVAL, show_default=True, callback=_interval,
              help="Prometheus scrape interval.")
@click.option("--evaluation-interval", default=EVALUATION_INTERVAL, show_default=True, callback=_interval,
              help="Prometheus rule evaluation interval (1 s: a page leaves within seconds of the data).")
@click.option("--demo", is_flag=True, help="Also run a demo payment service that trips the example payment alert.")
@click.option("--demo-calm", default=DEMO_CALM_S, show_default=True, callback=_duration,
              help="Seconds the demo runs normally before slowing.")
@_port_options
def up(**params: Any) -> None:
    """Run the collector, Prometheus, Alertmanager and the log store locally (Ctrl-C or `hms-ops down` stops)."""
    with _clean_errors():
        run_up(UpOptions.from_params(params))


@click.command()
@_STATE_OPTION
def status(state_option: Path | None) -> None:
    """Each component of the stack: healthy or not, with its URL. Exit 0 only when all are healthy."""
    from hms_otel.stack.lifecycle import status as stack_status

    directory = _checked_folder(state_option)
    _check_state_file(directory)
    try:
        recorded, rows = stack_status(directory)
    except state.ForeignStateError as error:
        raise click.ClickException(str(error)) from None
    if recorded is None:
        shown = safe_name(str(directory))
        holder = state.lock_holder(directory)
        if holder is not None:
            raise click.ClickException(f"the stack with state {shown} is starting (hms-ops up PID {holder}): "
                                       "it has not recorded its processes yet")
        raise click.ClickException(f"no stack is running with state {shown} (`hms-ops up` starts one)")
    # Names, URLs and details come from stack.json, which anyone can write: shown escaped, never run by the
    # terminal (a name "x\x1b]0;pwn\x07" set the window title).
    names = [safe_name(row.name) for row in rows]
    width = max(len(name) for name in names)
    for name, row in zip(names, rows, strict=True):
        mark = "ok  " if row.healthy else "FAIL"
        click.echo(f"{mark} {name.ljust(width)}  {safe_name(row.detail)}{'  ' + safe_name(row.url) if row.url else ''}")
    unhealthy = [name for name, row in zip(names, rows, strict=True) if not row.healthy]
    if unhealthy:
        raise click.ClickException(f"not healthy: {', '.join(unhealthy)}")


@click.command()
@_STATE_OPTION
def down(state_option: Path | None) -> None:
    """Stop the stack started with this state folder: exactly its processes, by PID, and nothing else."""
    from hms_otel.stack.lifecycle import down as stack_down

    directory = _checked_folder(state_option)
    try:
        recorded = state.read_checked(directory)
    except state.StateFileError as error:
        unreadable: state.StateFileError | None = error
        recorded = None
    else:
        unreadable = None
    if recorded is None:
        # No usable record, but a supervisor holding the lock (starting, or its file was damaged) knows its
        # processes: stopping it stops them.
        holder = state.lock_holder(directory)
        if holder is not None:
            stopped = state.stop_processes([state.ProcessRecord("hms-ops up", holder, process_start_ticks(holder))],
                                           grace=20)
            why = f" ({unreadable})" if unreadable else ""
            click.echo(f"stopped: hms-ops up (PID {holder}) and the servers it ran{why}" if stopped
                       else f"hms-ops up (PID {holder}) had already stopped")
            return
        if unreadable is not None:
            raise click.ClickException(f"{unreadable}; no `hms-ops up` holds this state, so which servers to stop "
                                       "is unknown (look for them with `ps`)")
        click.echo(f"no stack is running with state {safe_name(str(directory))}; nothing to stop")
        return
    try:
        result = stack_down(directory)
    except state.ForeignStateError as error:
        raise click.ClickException(str(error)) from None
    names = (", ".join(f"{safe_name(record.name)} (PID {record.pid})" for record in result.processes)
             or "nothing was still running")
    click.echo(f"stopped: {names}; data and logs kept in {safe_name(str(directory))}")
    if result.unremoved is not None:
        path = safe_name(str(directory / state.STATE_FILE))
        raise click.ClickException(f"could not remove {path} ({os_error_text(result.unremoved)}); the processes "
                                   "it names have stopped, so it can be deleted")
