"""``hms-ops collector ...``, ``hms-ops install ...`` and ``hms-ops up``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from hms_otel.stack import builds, state
from hms_otel.stack.localstack import PORT_OPTIONS, STANDARD_PORTS, LocalStack, Ports
from hms_otel.stack.processes import ProcessError
from hms_otel.stack.services import ConfigInvalid, collector_config_path, validate_collector_config

# rich is imported only by the commands that draw progress (install, build): `hms-ops up` stays a
# small process at rest and its plain output never truncates a URL when there is no terminal.
_KNOWN_ERRORS = (builds.BuildError, builds.MissingBinary, ProcessError, ConfigInvalid, OSError)


@contextlib.contextmanager
def _clean_errors() -> Iterator[None]:
    """Known failures become one clear message and exit code 1, not a traceback."""
    try:
        yield
    except _KNOWN_ERRORS as error:
        raise click.ClickException(str(error)) from None


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
    with _clean_errors(), _progress("building hms-otelcol") as progress:
        started = time.monotonic()
        path = builds.build_collector(manifest, progress, force=force)
        progress(f"done in {time.monotonic() - started:.0f} s")
    click.echo(path)


@collector.command()
@click.argument("config", type=click.Path(path_type=Path))
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
def install(targets: tuple[str, ...]) -> None:
    """Install everything the local stack runs (default: all). Idempotent: done steps are skipped.

    \b
    debian         Prometheus, promtool (apt-get)
    collector      hms-otelcol built with ocb into ~/.cache/hms-ops
    alertmanager   Alertmanager and amtool v0.31.1 built from their Go module into ~/.cache/hms-ops
    victoria-logs  VictoriaLogs (the local log store) built from its Go module into ~/.cache/hms-ops
    uplot          the dashboard's charting library (npm pack, integrity-checked) into ~/.cache/hms-ops
    """
    from hms_otel.dashboards.uplot import install_uplot

    chosen = _TARGETS if not targets or "all" in targets else tuple(t for t in _TARGETS if t in targets)
    steps = {
        "debian": builds.install_debian,
        "collector": builds.build_collector,
        "alertmanager": builds.build_alertmanager,
        "victoria-logs": builds.build_victorialogs,
        "uplot": install_uplot,
    }
    with _clean_errors(), _progress("installing") as progress:
        for target in chosen:
            started = time.monotonic()
            steps[target](progress=progress)  # type: ignore[operator]
            progress(f"{target}: ok ({time.monotonic() - started:.0f} s)")


# -- hms-ops up / status / down --------------------------------------------------------------------------------

_STATE_OPTION = click.option(
    "--state",
    "state_option",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State folder: configs, data, logs and PIDs of the stack [env HMS_OPS_STATE; default ./.hms-ops].",
)


def _port_options(func: Callable[..., None]) -> Callable[..., None]:
    for field in reversed(dataclasses.fields(Ports)):
        default = getattr(STANDARD_PORTS, field.name)
        option = f"--{field.name.replace('_', '-')}-port"
        func = click.option(
            option,
            field.name + "_port",
            type=click.IntRange(1, 65535),
            default=default,
            show_default=True,
            envvar=f"HMS_{field.name.upper()}_PORT",
            help=f"Port for {field.name.replace('_', ' ')} (env {PORT_OPTIONS[field.name].split()[-1]}).",
        )(func)
    return func


def _say(text: str) -> None:
    click.echo(text, nl=True)
    sys.stdout.flush()


def _start_demo(stack: LocalStack, calm: float) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(stack.env())
    env.update({"OTEL_SERVICE_NAME": "hms-demo-payments", "HMS_LAYER": "ACH", "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    log = (stack.workdir / "demo" / "demo.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(instrument), sys.executable, "-m", "hms_otel.stack.demo", "--calm", str(calm)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _links_text(links: dict[str, str]) -> str:
    width = max(len(label) for label in links)
    return "\n".join(f"  {label.ljust(width)}  {url}" for label, url in links.items())


#: `hms-ops up` defaults that set how fast a page leaves (benchmarks/bench_alert_latency.py measures them).
SCRAPE_INTERVAL = "5s"
EVALUATION_INTERVAL = "1s"


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (`hms-ops down`, a process manager) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def _already_running(directory: Path) -> click.ClickException:
    recorded = state.read(directory)
    where = f"{directory}"
    if recorded is None:
        return click.ClickException(f"a stack is already starting or running with state {where}")
    return click.ClickException(
        f"a stack is already running with state {where} (hms-ops up PID {recorded.supervisor.pid}):\n"
        f"{_links_text(recorded.links)}\n"
        f"`hms-ops status` checks it, `hms-ops down` stops it; `--state DIR` runs a second one."
    )


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
    help="Alert folder to compile and hot-reload [default: ./alerts or ./alert_rules, whichever exists].",
)
@click.option("--examples", is_flag=True, help="Load the project's example alerts (what --demo does).")
@click.option("--detach", is_flag=True, help="Return once the stack is ready; `hms-ops down` stops it.")
@click.option("--fresh", is_flag=True, help="Start from empty data: deletes the components' folders in the state.")
@click.option("--no-logs", is_flag=True, help="Metrics and alerts only: no log store.")
@click.option("--scrape-interval", default=SCRAPE_INTERVAL, show_default=True, help="Prometheus scrape interval.")
@click.option("--evaluation-interval", default=EVALUATION_INTERVAL, show_default=True,
              help="Prometheus rule evaluation interval (1 s: a page leaves within seconds of the data).")
@click.option("--demo", is_flag=True, help="Also run a demo payment service that trips the example payment alert.")
@click.option("--demo-calm", default=20.0, show_default=True, help="Seconds the demo runs normally before slowing.")
@_port_options
def up(
    state_option: Path | None,
    collector_config: Path | None,
    alert_dir: Path | None,
    examples: bool,
    detach: bool,
    fresh: bool,
    no_logs: bool,
    scrape_interval: str,
    evaluation_interval: str,
    demo: bool,
    demo_calm: float,
    **ports: int,
) -> None:
    """Run the collector, Prometheus, Alertmanager and the log store locally (Ctrl-C or `hms-ops down` stops)."""
    from hms_otel.stack.lifecycle import choose_alert_folder

    directory = state.state_dir(state_option).resolve()
    lock = state.try_lock(directory)
    if lock is None:
        raise _already_running(directory)
    leftover = state.read(directory)
    if leftover is not None and any(record.alive for record in leftover.components):
        running = ", ".join(f"{r.name} (PID {r.pid})" for r in leftover.components if r.alive)
        raise click.ClickException(
            f"processes of an earlier stack with state {directory} still run: {running}; "
            f"`hms-ops down --state {directory}` stops them"
        )
    alerts = choose_alert_folder(alert_dir, examples or demo)
    stack = LocalStack(
        directory,
        Ports(**{name.removesuffix("_port"): value for name, value in ports.items()}),
        collector_config=collector_config or collector_config_path("local"),
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
        with_victorialogs=not no_logs,
    )
    with _clean_errors():
        stack.check_can_start()  # ports and binaries: one message, before anything starts or forks
    if fresh:
        for service in stack.services:
            shutil.rmtree(directory / service.name, ignore_errors=True)
    _say(alerts.reason)
    if detach:
        _detach_and_report(directory, lambda report: _run(stack, alerts, demo, demo_calm, scrape_interval, report))
    else:
        _run(stack, alerts, demo, demo_calm, scrape_interval, None)
    lock.close()


def _detach_and_report(directory: Path, run: Callable[[IO[str]], int]) -> None:
    """Fork the supervisor into its own session; return when it reports ready (or print why it did not).

    A fork, not a new interpreter: the supervisor starts without paying for
    Python's start-up and imports again, which keeps `up --detach` near the
    servers' own start-up time.
    """
    console_log = directory / state.CONSOLE_LOG
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the supervisor
        os.close(read_end)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        code = 1
        try:
            with os.fdopen(write_end, "w") as report:
                code = run(report)
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        line = report.readline()
    try:
        outcome: dict[str, Any] = json.loads(line)
    except ValueError:
        raise click.ClickException(
            f"the stack exited while starting; last lines of {console_log}:\n"
            + "\n".join(console_log.read_text(errors="replace").splitlines()[-20:])
        ) from None
    if "error" in outcome:
        raise click.ClickException(outcome["error"])
    _say(f"HMS local stack ready in {outcome['started_in']:.1f} s (hms-ops up PID {pid}, detached)")
    _say(_links_text(outcome["links"]))
    _say(f"Console (alert texts, reloads): {console_log}\n`hms-ops status` checks it, `hms-ops down` stops it.")


def _run(
    stack: LocalStack, alerts: Any, demo: bool, demo_calm: float, scrape_interval: str, report: IO[str] | None
) -> int:
    """Start, report readiness (to the detaching parent or the terminal), supervise until stopped."""
    from hms_otel.stack.lifecycle import Supervisor

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (a background job)
    alert_env = {"HMS_SCRAPE_INTERVAL": scrape_interval}

    def extras(started: LocalStack) -> dict[str, subprocess.Popen[bytes]]:
        return {"demo": _start_demo(started, demo_calm)} if demo else {}

    supervisor = Supervisor(stack, alerts, alert_env=alert_env, say=_say, extra_processes=extras)
    code = 0
    try:
        try:
            recorded = supervisor.start()
        except _KNOWN_ERRORS as error:
            if report is None:
                raise click.ClickException(str(error)) from None
            report.write(json.dumps({"error": str(error)}) + "\n")
            return 1
        if report is not None:
            report.write(json.dumps({"links": recorded.links, "started_in": supervisor.started_in}) + "\n")
            report.flush()
        _say(f"HMS local stack ready in {supervisor.started_in:.1f} s")
        _say(_links_text(recorded.links))
        if demo:
            _say(f"demo service running (log: {stack.workdir / 'demo' / 'demo.log'}); payments slow down after "
                 f"{demo_calm:g} s and the payment alert's text appears here within seconds")
        if report is None:
            _say("Ctrl-C stops everything.")
        supervisor.supervise()
    except KeyboardInterrupt:
        _say("stopping ...")
    finally:
        supervisor.stop()
    return code


@click.command()
@_STATE_OPTION
def status(state_option: Path | None) -> None:
    """Each component of the stack: healthy or not, with its URL. Exit 0 only when all are healthy."""
    from hms_otel.stack.lifecycle import status as stack_status

    directory = state.state_dir(state_option).resolve()
    recorded, rows = stack_status(directory)
    if recorded is None:
        raise click.ClickException(f"no stack is running with state {directory} (`hms-ops up` starts one)")
    width = max(len(row.name) for row in rows)
    for row in rows:
        mark = "ok  " if row.healthy else "FAIL"
        click.echo(f"{mark} {row.name.ljust(width)}  {row.detail}{'  ' + row.url if row.url else ''}")
    unhealthy = [row.name for row in rows if not row.healthy]
    if unhealthy:
        raise click.ClickException(f"not healthy: {', '.join(unhealthy)}")


@click.command()
@_STATE_OPTION
def down(state_option: Path | None) -> None:
    """Stop the stack started with this state folder: exactly its processes, by PID, and nothing else."""
    from hms_otel.stack.lifecycle import down as stack_down

    directory = state.state_dir(state_option).resolve()
    if state.read(directory) is None:
        click.echo(f"no stack is running with state {directory}; nothing to stop")
        return
    stopped = stack_down(directory)
    names = ", ".join(f"{record.name} (PID {record.pid})" for record in stopped) or "nothing was still running"
    click.echo(f"stopped: {names}; data and logs kept in {directory}")
