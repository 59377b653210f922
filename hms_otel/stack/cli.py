"""``hms-ops collector ...``, ``hms-ops install ...`` and ``hms-ops up``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hms_otel.stack import builds
from hms_otel.stack.localstack import PORT_OPTIONS, STANDARD_PORTS, LocalStack, Ports
from hms_otel.stack.processes import ProcessError
from hms_otel.stack.services import ConfigInvalid, collector_config_path, validate_collector_config
from hms_otel.terminal import safe_text

if TYPE_CHECKING:
    from hms_otel.dashboards.publish import DashboardPublisher

_console = Console(stderr=True, highlight=False)
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
    with _console.status(title) as status:

        def report(message: str) -> None:
            _console.print(f"[cyan]•[/] {message}")
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


# -- hms-ops up ----------------------------------------------------------------------------------------------


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


def _start_alert_watcher(
    stack: LocalStack, alert_dir: Path, defaults: dict[str, str], stop: threading.Event
) -> threading.Thread:
    """Compile ``alert_dir`` into the stack and hot-reload it on change, on a thread.

    The rules land in ``stack.rules_dir`` (loaded by Prometheus), the routing in
    ``stack.alertmanager_config_path``. ``defaults`` are alert settings this stack
    implies (e.g. its scrape interval); the user's environment wins over them.
    """
    from hms_otel.alerts.watcher import watch  # only `up` needs the compiler

    def echo(text: str, is_error: bool) -> None:
        text = escape(safe_text(text))  # PromQL like `[5m]` is not rich markup; file text may hold escapes
        _console.print(f"[red]{text}[/]" if is_error else f"[dim]alerts:[/] {text}")

    def run() -> None:
        try:
            settings = stack.alert_settings({**defaults, **os.environ})
            watch(
                alert_dir,
                stack.rules_dir / "hms-alerts.yml",
                stack.alertmanager_config_path,
                prometheus_url=stack.prometheus_url,
                alertmanager_url=stack.alertmanager_url,
                settings=settings,
                stop_event=stop,
                echo=echo,
                reload_prometheus=stack.prometheus.reload_outcome,
                reload_alertmanager=stack.alertmanager.reload_outcome,
            )
        except Exception as error:  # a broken watcher must not take the stack down
            _console.print(f"[red]alert watcher stopped:[/] {escape(safe_text(str(error)))}")

    thread = threading.Thread(target=run, name="hms-alert-watcher", daemon=True)
    thread.start()
    return thread


def _start_demo(stack: LocalStack, workdir: Path, calm: float) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(stack.env())
    env.update({"OTEL_SERVICE_NAME": "hms-demo-payments", "HMS_LAYER": "ACH", "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    log = (workdir / "demo.log").open("ab")
    return subprocess.Popen(
        [str(instrument), sys.executable, "-m", "hms_otel.stack.demo", "--calm", str(calm)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _follow_notifier(stack: LocalStack, stop: threading.Event) -> None:
    """Print what the notifier says (messages as the phone shows them, delivery failures) on this console."""
    notifier = stack.notifier
    if notifier is None:
        return
    path = notifier.log_path

    def run() -> None:
        with contextlib.suppress(OSError), path.open("r", encoding="utf-8", errors="replace") as log:
            log.seek(0, os.SEEK_END)
            while not stop.is_set():
                line = log.readline()
                if not line:
                    stop.wait(0.1)
                    continue
                text = line.rstrip("\n")
                if text.startswith("=== "):  # the process layer's start marker
                    continue
                style = "bold red" if text.startswith(("[HMS-OPS] ALERT", "📱", "✗")) else "bold"
                _console.print(f"[{style}]{escape(safe_text(text))}[/]")

    threading.Thread(target=run, name="hms-notifier-console", daemon=True).start()


def _channels(alert_dir: Path) -> None:
    """Say which channels of the alert files are live and which only print here."""
    from hms_otel.notify.cli import notified_actions
    from hms_otel.notify.config import ConfigError, load
    from hms_otel.notify.server import channel_report

    try:
        config = load(None, read_token=False)
    except ConfigError as error:
        _console.print(f"[red]notifier settings: {escape(str(error))}[/]")
        return
    for line in channel_report(config, notified_actions(alert_dir)):
        live = ": live," in line
        _console.print(f"[dim]channel[/] {'[green]' if live else '[yellow]'}{escape(line)}[/]")


def _summary(stack: LocalStack, workdir: Path) -> Table:
    table = Table(title="HMS local stack", show_header=True, header_style="bold")
    table.add_column("service", overflow="fold")
    table.add_column("address", no_wrap=True)  # URLs stay whole, so they can be copied or clicked
    table.add_row("OTLP gRPC (OTEL_EXPORTER_OTLP_ENDPOINT)", stack.otlp_grpc_endpoint)
    table.add_row("OTLP HTTP", stack.otlp_http_endpoint)
    table.add_row("Prometheus", f"{stack.prometheus_url}/classic/graph")
    table.add_row("HMS dashboard", stack.dashboard_url)
    auth = stack.alertmanager_auth
    table.add_row("Alertmanager: alerts", stack.alertmanager.ui_url("alerts"))
    table.add_row("Alertmanager: silences", stack.alertmanager.ui_url("silences"))
    table.add_row("Alertmanager login (API and UI)", f"user {auth.username}  password {auth.password}")
    if stack.notifier is not None:
        table.add_row("notifier (Alertmanager webhooks)", f"{stack.notifier.url}/v1/alerts")
        table.add_row("texts not sent (no provider)", str(stack.notifier.outbox_path))
    if stack.victorialogs is not None:
        table.add_row("Logs (search UI)", stack.victorialogs.ui_url)
        table.add_row("Logs (terminal)", "hms-ops logs search TEXT --service S --since 10m")
    table.add_row("state and logs", str(workdir))
    return table


def _dashboard(stack: LocalStack, alert_dir: Path) -> DashboardPublisher | None:
    """Serve the dashboard from the stack; without uPlot the stack still runs, with a warning."""
    from hms_otel.dashboards.publish import DashboardPublisher
    from hms_otel.dashboards.site import Links

    def say(text: str, is_error: bool) -> None:
        _console.print(f"[red]{escape(text)}[/]" if is_error else f"[dim]{escape(text)}[/]")

    # No login in the link: the page holds no credentials; the browser asks for the one `up` prints.
    links = Links(alertmanager=stack.alertmanager_url + "/#/alerts",
                  logs=stack.victorialogs.ui_url if stack.victorialogs is not None else None)
    journal = stack.notifier.state_dir / "journal" if stack.notifier is not None else None
    publisher = DashboardPublisher(stack.dashboard_dir, alert_dir, links, say, journal)
    try:
        publisher.publish()
    except builds.MissingBinary as error:
        _console.print(f"[yellow]no dashboard: {escape(str(error))}[/]")
        return None
    return publisher


#: `hms-ops up` defaults that set how fast a page leaves (benchmarks/bench_alert_latency.py measures them).
SCRAPE_INTERVAL = "5s"
EVALUATION_INTERVAL = "1s"


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".hms-ops"),
    show_default=True,
    help="Where configs, data and process logs go.",
)
@click.option(
    "--config",
    "collector_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Collector config (default: collector-config/local.yaml).",
)
@click.option(
    "--alerts",
    "alert_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("alert_rules"),
    show_default=True,
    help="Alert files to compile and hot-reload.",
)
@click.option("--scrape-interval", default=SCRAPE_INTERVAL, show_default=True, help="Prometheus scrape interval.")
@click.option("--evaluation-interval", default=EVALUATION_INTERVAL, show_default=True,
              help="Prometheus rule evaluation interval (1 s: a page leaves within seconds of the data).")
@click.option("--demo", is_flag=True, help="Also run a demo payment service that trips the payment alert.")
@click.option("--demo-calm", default=20.0, show_default=True, help="Seconds the demo runs normally before slowing.")
@_port_options
def up(
    workdir: Path,
    collector_config: Path | None,
    alert_dir: Path,
    scrape_interval: str,
    evaluation_interval: str,
    demo: bool,
    demo_calm: float,
    **ports: int,
) -> None:
    """Run the collector, Prometheus, Alertmanager, the notifier and VictoriaLogs locally until Ctrl-C."""
    ports_ = Ports(**{name.removesuffix("_port"): value for name, value in ports.items()})
    stack = LocalStack(
        workdir,
        ports_,
        collector_config=collector_config or collector_config_path("local"),
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)
    demo_proc: subprocess.Popen[bytes] | None = None
    try:
        with _clean_errors(), _console.status("starting VictoriaLogs, notifier, Alertmanager, Prometheus, collector"):
            stack.start()
        _follow_notifier(stack, stop)
        # Settings this stack implies; the user's environment still wins.
        alert_defaults = {"HMS_SCRAPE_INTERVAL": scrape_interval}
        dashboard = _dashboard(stack, alert_dir)
        if alert_dir.is_dir():
            _channels(alert_dir)
        # Started even without the folder: the watcher says there is nothing to watch, and reads it once it appears.
        _start_alert_watcher(stack, alert_dir, alert_defaults, stop)
        if demo:
            demo_proc = _start_demo(stack, stack.workdir, demo_calm)
            _console.print(
                f"demo service running (log: {stack.workdir / 'demo.log'}); payments slow down after {demo_calm:g} s "
                "and the payment alert's text appears here within seconds"
            )
        _console.print(_summary(stack, stack.workdir))
        _console.print("Ctrl-C stops everything.")
        while True:
            time.sleep(1)
            if dashboard is not None:
                dashboard.refresh()
            for service in (stack.collector, stack.prometheus, stack.alertmanager, stack.notifier, stack.victorialogs):
                if service is not None and not service.running:
                    raise click.ClickException(f"{service.name} exited; see {service.log_path}")
    except KeyboardInterrupt:
        _console.print("stopping ...")
    finally:
        stop.set()
        if demo_proc is not None and demo_proc.poll() is None:
            demo_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                demo_proc.wait(timeout=5)
            if demo_proc.poll() is None:
                demo_proc.kill()
        stack.stop()
