"""``hms-ops dashboards check`` and ``hms-ops dashboards export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from hms_otel.alerts.tools import ToolMissing
from hms_otel.dashboards.build import DashboardProblems, load
from hms_otel.dashboards.model import Dashboard
from hms_otel.dashboards.outputs import check_export_folder
from hms_otel.dashboards.site import page_spec

_ALERTS = click.option(
    "--alerts",
    "alert_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("alert_rules"),
    show_default=True,
    help="Alert files (thresholds) and *.dashboard.yaml files (team panels).",
)

_NO_TOOLS = click.option("--no-tools", is_flag=True, help="Skip checking the panel queries with promtool.")


def _checked(alert_dir: Path, no_tools: bool) -> Dashboard:
    """The dashboard of ``alert_dir`` with every panel query parsed by promtool (unless ``no_tools``)."""
    dashboard = load(alert_dir)  # DashboardProblems: printed located, exit 1, by hms-ops' one error wrapper
    if no_tools:
        return dashboard
    from hms_otel.dashboards.promql_check import query_problems

    try:
        problems = query_problems(dashboard)
    except ToolMissing as error:
        raise click.ClickException(f"{error}; or pass --no-tools to skip checking the panel queries") from None
    if problems:
        raise DashboardProblems(problems)
    return dashboard


@click.group()
def dashboards() -> None:
    """Dashboards generated from the metric registry, the alert files and *.dashboard.yaml files."""


@dashboards.command()
@_ALERTS
@_NO_TOOLS
def check(alert_dir: Path, no_tools: bool) -> None:
    """Check the dashboard files and their queries (promtool); each problem is printed as file:line:col: message."""
    dashboard = _checked(alert_dir, no_tools)
    click.echo(f"{len(dashboard.pages)} pages, {len(dashboard.panels)} panels: ok")


@dashboards.command()
@_ALERTS
@click.option("--grafana", "grafana_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write one Grafana dashboard JSON per page into this directory.")
@click.option("--format", "spec_format", type=click.Choice(["json", "yaml"]),
              help="Print the local dashboard spec (what the stack's page reads) in this format.")
@_NO_TOOLS
def export(alert_dir: Path, grafana_dir: Path | None, spec_format: str | None, no_tools: bool) -> None:
    """Export the dashboards: Grafana JSON (--grafana DIR) and/or the local spec (--format json|yaml)."""
    if grafana_dir is None and spec_format is None:
        raise click.UsageError("choose --grafana DIR and/or --format json|yaml")
    if grafana_dir is not None:
        check_export_folder(alert_dir, grafana_dir)  # before the work: a wrong folder is the likelier mistake
    dashboard = _checked(alert_dir, no_tools)
    if grafana_dir is not None:
        try:
            from hms_otel.dashboards import grafana
        except ImportError as error:
            raise click.ClickException(f"Grafana export needs grafana-foundation-sdk ({error}); "
                                       "pip install 'hms-otel[ops]'") from None
        for path in grafana.export(dashboard, grafana_dir, alert_dir):
            click.echo(f"wrote {path}", err=True)
    if spec_format == "json":
        json.dump(page_spec(dashboard), sys.stdout, indent=2)
        click.echo()
    elif spec_format == "yaml":
        click.echo(yaml.safe_dump(page_spec(dashboard), sort_keys=False, allow_unicode=True), nl=False)
