"""Recompile on change, validate, write atomically, reload Prometheus and
Alertmanager. A broken alert file is reported with its location and nothing is
written, so the last good rules stay active. When to compile again (polling by
path, settling, stale compiles) is :mod:`hms_otel.alerts.folder`'s job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from hms_otel import http
from hms_otel.alerts.compiler import AlertsInvalid, compile_dir, validate
from hms_otel.alerts.folder import POLL_S, SETTLE_S, Echo, RebuildReport, follow
from hms_otel.alerts.outputs import check_outputs
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.tools import ToolMissing
from hms_otel.errors import os_error_reason
from hms_otel.outputs import OutputRefused, write_atomically

__all__ = ["RebuildReport", "rebuild", "reload", "watch", "what_stays", "write_atomically"]
#: Reloads one server; returns "ok" or what went wrong. ``hms-ops up`` reloads Prometheus by SIGHUP.
Reload = Callable[[], str]
_RELOAD_TIMEOUT_S = 10


def _print(text: str, is_error: bool) -> None:
    import click

    from hms_otel.terminal import safe_text

    click.echo(safe_text(text), err=is_error)


def rebuild(
    directory: str | Path,
    rules_path: str | Path,
    alertmanager_path: str | Path | None = None,
    *,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    settings: Settings | None = None,
    k8s: bool = False,
    force: bool = True,
    echo: Echo = _print,
    still_current: Callable[[], bool] | None = None,
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
    empty_ok: bool = False,
) -> RebuildReport:
    """One compile -> validate -> write -> reload cycle.

    ``force`` reloads even when the outputs did not change (the servers may
    not have read them yet); ``watch`` passes ``False`` after its first cycle.
    ``still_current`` is asked before anything is written: ``False`` (the files
    changed meanwhile) drops this compile's outputs.
    A server is reloaded by ``reload_*`` when given, else by ``POST <url>/-/reload``.
    An output that is an alert file, the other output or no regular file is refused, and nothing written.
    ``empty_ok``: a folder without alert files compiles to no rules (else it is an error, as a wrong
    folder given to ``hms-ops alerts watch`` would empty the outputs it names).
    """
    outputs = [path for path in (alertmanager_path, rules_path) if path is not None]
    kept = what_stays(rules_path)
    try:
        # Checked at every build: a link added to the folder may lead to an output since the last one.
        check_outputs(directory, outputs)
    except OutputRefused as refused:
        echo(f"{refused}\nnothing written; {kept}", True)
        return RebuildReport(False)
    try:
        result = compile_dir(directory, settings, empty_ok=empty_ok)
    except AlertsInvalid as invalid:
        for problem in invalid.problems:
            echo(str(problem), True)
        echo(f"alert files have errors; {kept}", True)
        return RebuildReport(False, invalid.problems)
    try:
        problems = validate(result, settings)
    except ToolMissing as missing:
        echo(f"warning: {missing}; outputs not checked", True)
        problems = []
    if problems:
        for problem in problems:
            echo(str(problem), True)
        echo(f"alert files have errors; {kept}", True)
        return RebuildReport(False, problems, result.warnings)
    if still_current is not None and not still_current():
        return RebuildReport(False, [], result.warnings, stale=True)
    for warning in result.warnings:
        echo(str(warning), True)
    report = RebuildReport(True, warnings=result.warnings)
    rules_text = result.prometheus_rule_yaml if k8s else result.rules_yaml
    # Alertmanager first: its new routes must exist before Prometheus sends the new alerts.
    steps: list[tuple[str | Path, str, str | None, Reload | None]] = []
    if alertmanager_path is not None:
        steps.append((alertmanager_path, result.alertmanager_yaml, alertmanager_url,
                      reload_alertmanager or _by_url(alertmanager_url)))
    steps.append((rules_path, rules_text, prometheus_url, reload_prometheus or _by_url(prometheus_url)))
    for path, text, url, reloader in steps:
        try:
            changed = write_atomically(path, text)
        except OutputRefused as refused:  # became a device or pipe since the check: not worth retrying
            echo(f"{refused}; {kept}", True)
            report.ok = False
            return report
        except OSError as error:  # e.g. a full disk: say so, keep what the servers have, try again later
            echo(f"cannot write {path}: {os_error_reason(error)}; {kept}", True)
            report.ok = False
            report.unwritten = True
            return report
        if changed:
            report.written.append(str(path))
            echo(f"wrote {path}", False)
        # Reload only on change: Prometheus 2.42 forgets its Alertmanagers for up to 5 s after every
        # reload and drops alerts sent meanwhile (prometheus/prometheus#13064) until the resend delay.
        if reloader is not None and (changed or force):
            name = url or str(path)
            outcome = reloader()
            report.reloads[name] = outcome
            if outcome != "ok":
                report.ok = False
                echo(f"reload of {name} failed: {outcome}", True)
    return report


def what_stays(rules_path: str | Path) -> str:
    """What stays loaded when a build writes nothing: at a first build with broken files, no rules at all."""
    if Path(rules_path).is_file():
        return "the previous rules stay active"
    return "no alert rules are loaded until this is fixed"


def _by_url(url: str | None) -> Reload | None:
    return (lambda: reload(url)) if url else None


def reload(base_url: str) -> str:
    """``POST /-/reload``; "ok" or what went wrong (Prometheus answers 500 and keeps the old rules)."""
    try:
        http.request("POST", base_url.rstrip("/") + "/-/reload", data=b"", timeout=_RELOAD_TIMEOUT_S)
    except http.HTTPError as error:
        return str(error)
    return "ok"


def watch(
    directory: str | Path,
    rules_path: str | Path,
    alertmanager_path: str | Path | None = None,
    *,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    settings: Settings | None = None,
    stop_event: threading.Event | None = None,
    echo: Echo = _print,
    on_rebuild: Callable[[RebuildReport], None] | None = None,
    poll_s: float = POLL_S,
    settle_s: float = SETTLE_S,
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
) -> None:
    """Rebuild now and after every settled change under ``directory`` until ``stop_event`` is set.

    Survives the folder being removed, re-created, renamed or replaced by a link, and says
    when there is nothing to watch. Never raises for what is in the folder.
    """
    stop = stop_event or threading.Event()

    def build(force: bool, still_current: Callable[[], bool]) -> RebuildReport:
        return rebuild(directory, rules_path, alertmanager_path, prometheus_url=prometheus_url,
                       alertmanager_url=alertmanager_url, settings=settings, force=force, echo=echo,
                       still_current=still_current, reload_prometheus=reload_prometheus,
                       reload_alertmanager=reload_alertmanager)

    follow(directory, build, stop=stop, echo=echo, on_rebuild=on_rebuild, poll_s=poll_s, settle_s=settle_s)
