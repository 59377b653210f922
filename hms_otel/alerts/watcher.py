"""Recompile on change, validate, write atomically, reload Prometheus and
Alertmanager. A broken alert file is reported with its location and nothing is
written, so the last good rules stay active."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from hms_otel import http
from hms_otel.alerts.compiler import AlertsInvalid, compile_dir, validate
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.tools import ToolMissing
from hms_otel.errors import Problem

#: ``echo(text, is_error)``; the CLI prints, ``hms-ops up`` may log.
Echo = Callable[[str, bool], None]
#: Reloads one server; returns "ok" or what went wrong. ``hms-ops up`` reloads Prometheus by SIGHUP.
Reload = Callable[[], str]
_RELOAD_TIMEOUT_S = 10


def _print(text: str, is_error: bool) -> None:
    import click

    click.echo(text, err=is_error)


@dataclass
class RebuildReport:
    ok: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    #: URL -> "ok" or the error the server answered.
    reloads: dict[str, str] = field(default_factory=dict)


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
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
) -> RebuildReport:
    """One compile -> validate -> write -> reload cycle.

    ``force`` reloads even when the outputs did not change (the servers may
    not have read them yet); ``watch`` passes ``False`` after its first cycle.
    A server is reloaded by ``reload_*`` when given, else by ``POST <url>/-/reload``.
    """
    try:
        result = compile_dir(directory, settings)
    except AlertsInvalid as invalid:
        for problem in invalid.problems:
            echo(str(problem), True)
        echo("alert files have errors; the previous rules stay active", True)
        return RebuildReport(False, invalid.problems)
    try:
        problems = validate(result)
    except ToolMissing as missing:
        echo(f"warning: {missing}; outputs not checked", True)
        problems = []
    if problems:
        for problem in problems:
            echo(str(problem), True)
        return RebuildReport(False, problems, result.warnings)
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
        changed = write_atomically(path, text)
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


def write_atomically(path: str | Path, text: str) -> bool:
    """Replace ``path`` with ``text`` in one step; ``False`` when it already had it."""
    target = Path(path)
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


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
    reload_prometheus: Reload | None = None,
    reload_alertmanager: Reload | None = None,
) -> None:
    """Rebuild now and after every change under ``directory`` until ``stop_event`` is set."""
    def cycle(force: bool) -> None:
        report = rebuild(directory, rules_path, alertmanager_path, prometheus_url=prometheus_url,
                         alertmanager_url=alertmanager_url, settings=settings, force=force, echo=echo,
                         reload_prometheus=reload_prometheus, reload_alertmanager=reload_alertmanager)
        if on_rebuild is not None:
            on_rebuild(report)

    cycle(True)
    for _changes in watchfiles.watch(
        directory,
        watch_filter=lambda _change, path: path.endswith((".yml", ".yaml")),
        stop_event=stop_event,
        debounce=300,
        rust_timeout=500,
        yield_on_timeout=False,
    ):
        cycle(False)
