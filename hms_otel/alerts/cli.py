"""``hms-ops alerts``: check, compile, test and watch alert files."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

import click

from hms_otel.alerts.compiler import AlertsInvalid, CompileResult, compile_dir, run_tests, validate
from hms_otel.alerts.outputs import check_outputs
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.syntax import SyntaxProblem, parse_duration
from hms_otel.alerts.tools import ToolMissing
from hms_otel.alerts.watcher import watch as watch_loop
from hms_otel.cli import GuardedGroup
from hms_otel.envoption import EnvOption
from hms_otel.errors import Problem
from hms_otel.outputs import write_atomically
from hms_otel.yamlfile import read_text_file


def _warnings(problems: list[Problem]) -> None:
    for problem in problems:
        click.secho(str(problem), fg="yellow", err=True)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value).ms
    except SyntaxProblem as problem:
        raise click.BadParameter(problem.message) from None


def _settings(scrape_interval_ms: int | None, group_wait: str | None) -> Settings:
    settings = Settings.from_env()
    if scrape_interval_ms is not None:
        settings = replace(settings, scrape_interval_ms=scrape_interval_ms)
    if group_wait is not None:
        settings = replace(settings, group_wait=group_wait)
    return settings


_DIR = click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
_SCRAPE = click.option("--scrape-interval", "scrape_interval_ms", callback=_duration,
                       help="How often a sample arrives, for window warnings "
                       "[env HMS_SCRAPE_INTERVAL, default 5s: the SDK export interval, remote-written].")
def _group_wait(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_duration(value, allow_zero=True)
        except SyntaxProblem as problem:
            raise click.BadParameter(problem.message) from None
    return value


_GROUP_WAIT = click.option("--group-wait", callback=_group_wait,
                           help="Alertmanager group_wait of every route [env HMS_ALERT_GROUP_WAIT; default by "
                                "severity: critical 0s, warning 30s, info 1m].")


def _compile(directory: Path, settings: Settings, tools_check: bool) -> CompileResult:
    result = compile_dir(directory, settings)
    _warnings(result.warnings)
    if tools_check:
        try:
            problems = validate(result, settings)
        except ToolMissing as missing:
            click.secho(f"warning: {missing}; generated files not checked", fg="yellow", err=True)
            problems = []
        if problems:
            raise AlertsInvalid(problems)
    return result


@click.group(cls=GuardedGroup)
def alerts() -> None:
    """Alert files (alert_rules/) -> Prometheus rules and Alertmanager routing."""


@alerts.command()
@_DIR
@_SCRAPE
@click.option("--no-tools", is_flag=True, help="Skip promtool/amtool checks of the generated files.")
def check(directory: Path, scrape_interval_ms: int | None, no_tools: bool) -> None:
    """Check every alert file in DIRECTORY; errors print as file:line:col: message."""
    result = _compile(directory, _settings(scrape_interval_ms, None), not no_tools)
    count = len(result.alert_ids())
    click.echo(f"ok: {len(result.files)} files, {count} alerts")


@alerts.command(name="compile")
@_DIR
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rules file to write (default: print to stdout).")
@click.option("--alertmanager", "alertmanager_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Alertmanager config to write.")
@click.option("--format", "output_format", type=click.Choice(["prometheus", "k8s"]), default="prometheus",
              show_default=True, help="k8s writes a prometheus-operator PrometheusRule.")
@_SCRAPE
@_GROUP_WAIT
@click.option("--no-tools", is_flag=True, help="Skip promtool/amtool checks of the generated files.")
def compile_command(directory: Path, output: Path | None, alertmanager_path: Path | None, output_format: str,
                    scrape_interval_ms: int | None, group_wait: str | None, no_tools: bool) -> None:
    """Compile DIRECTORY into rule groups (and an Alertmanager config); nothing is written on error."""
    check_outputs(directory, [path for path in (output, alertmanager_path) if path is not None])
    result = _compile(directory, _settings(scrape_interval_ms, group_wait), not no_tools)
    rules_text = result.prometheus_rule_yaml if output_format == "k8s" else result.rules_yaml
    if output is None:
        click.echo(rules_text, nl=False)
    else:
        write_atomically(output, rules_text)
        click.echo(f"wrote {output}", err=True)
    if alertmanager_path is not None:
        write_atomically(alertmanager_path, result.alertmanager_yaml)
        click.echo(f"wrote {alertmanager_path}", err=True)


@alerts.command()
@_DIR
def test(directory: Path) -> None:
    """Generate promtool unit tests for every alert (fires over the threshold with the rendered
    message, silent under it) and run them."""
    result = _compile(directory, Settings.from_env(), False)
    failed = 0
    for outcome in run_tests(result):
        for skipped in outcome.skipped:
            click.secho(str(skipped), fg="yellow", err=True)
        if outcome.ok:
            click.echo(f"PASS {outcome.source} ({outcome.tests} test files)")
        else:
            failed += 1
            click.secho(f"FAIL {outcome.source}", fg="red")
            click.echo(outcome.output)
    if failed:
        click.echo(f"{failed} file{'s' if failed != 1 else ''} failed", err=True)
        sys.exit(1)


@alerts.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="alert_rules")
@click.option("--alert", "alert_name", help="Drill only this alert (its name, or <slo>_page / <slo>_ticket).")
@click.option("--alertmanager", "alertmanager_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check routes in this Alertmanager config (e.g. the deployed one) instead of the compiled one.")
def drill(directory: Path, alert_name: str | None, alertmanager_path: Path | None) -> None:
    """Prove every alert's path without paging anyone: its promtool test, its Alertmanager route,
    the exact text each channel gets, and delivery to local capture servers (pass/fail table)."""
    from rich.console import Console
    from rich.table import Table

    from hms_otel.alerts.drill import drill as run_drill

    result = _compile(directory, Settings.from_env(), False)
    if alert_name is not None and alert_name not in result.alert_ids():
        raise click.ClickException(f"no alert named {alert_name!r} in {directory}; "
                                   f"known: {', '.join(result.alert_ids())}")
    deployed = read_text_file(alertmanager_path, str(alertmanager_path), what="Alertmanager config") \
        if alertmanager_path else None
    rows = run_drill(result, alert=alert_name, alertmanager_yaml=deployed)
    table = Table(title=f"alert drill: {directory}", show_lines=True)
    for column in ("alert", "channel", "promtool test", "route", "delivery", "text the channel gets"):
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [_verdict(row.test), _verdict(row.route), _verdict(row.delivery)]
        table.add_row(row.alert, row.channel, *cells, row.text)
    Console(highlight=False, width=max(160, Console().width)).print(table)
    failed = [row for row in rows if not row.ok]
    for row in failed:
        reasons = "; ".join(f"{what} {outcome}" for what, outcome in
                            (("test", row.test), ("route", row.route), ("delivery", row.delivery))
                            if outcome not in ("pass", "n/a"))
        click.secho(f"FAIL {row.alert} -> {row.channel}: {reasons}", fg="red", err=True)
    if failed:
        sys.exit(1)
    click.echo(f"ok: {len(rows)} alert channels drilled, all pass")


def _verdict(outcome: str) -> str:
    from rich.markup import escape

    if outcome == "pass":
        return "[green]pass[/]"
    if outcome == "n/a":
        return "[dim]n/a[/]"
    return f"[red]{escape(outcome)}[/]"


@alerts.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Rules file Prometheus loads.")
@click.option("--alertmanager", "alertmanager_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Alertmanager config file to write.")
@click.option("--prometheus-url", cls=EnvOption, envvar="HMS_PROMETHEUS_URL",
              help="Prometheus to reload after a change, e.g. http://127.0.0.1:9090 [env HMS_PROMETHEUS_URL].")
@click.option("--alertmanager-url", cls=EnvOption, envvar="HMS_ALERTMANAGER_URL",
              help="Alertmanager to reload after a change, e.g. http://127.0.0.1:9093; with a login, "
                   "http://user:password@127.0.0.1:9093 (as `hms-ops up` prints it) [env HMS_ALERTMANAGER_URL, "
                   "which keeps the password out of the process list].")
@_SCRAPE
@_GROUP_WAIT
def watch(directory: Path, output: Path, alertmanager_path: Path | None, prometheus_url: str | None,
          alertmanager_url: str | None, scrape_interval_ms: int | None, group_wait: str | None) -> None:
    """Recompile, check and reload on every change in DIRECTORY (Ctrl-C or SIGTERM stops).

    A broken file is reported as file:line:col and the last good rules stay active. The folder
    may be removed, re-created or replaced by a link meanwhile."""
    settings = _settings(scrape_interval_ms, group_wait)
    check_outputs(directory, [path for path in (output, alertmanager_path) if path is not None])
    click.echo(f"watching {directory} (Ctrl-C to stop)", err=True)
    stop = threading.Event()
    failures: list[Exception] = []

    def run() -> None:
        try:
            watch_loop(directory, output, alertmanager_path, prometheus_url=prometheus_url,
                       alertmanager_url=alertmanager_url, settings=settings, stop_event=stop)
        except Exception as error:  # reported by the main thread, the one place that prints errors
            failures.append(error)

    # Compiling runs on a worker thread; the main thread only waits, so Ctrl-C and SIGTERM
    # are handled within a fraction of a second whatever a compile is doing.
    worker = threading.Thread(target=run, name="hms-alert-watcher", daemon=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
    if failures:
        raise failures[0]


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
