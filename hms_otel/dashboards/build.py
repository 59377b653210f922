"""Defaults + team files -> the :class:`Dashboard` every generator reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from hms_otel.alerts.model import AlertFile
from hms_otel.dashboards import spec
from hms_otel.dashboards.defaults import OVERVIEW, default_dashboard, metric_panel, page_id, title_key
from hms_otel.dashboards.model import Dashboard, Page, Panel, PanelKind
from hms_otel.errors import Location, Problem, ProblemsError
from hms_otel.registry import REGISTRY, MetricRegistry


class DashboardProblems(ProblemsError):
    """Team dashboard files have problems; ``problems`` are located, sorted by position."""


def apply(dashboard: Dashboard, files: Iterable[spec.DashboardFile], alert_files: Iterable[AlertFile] = (),
          registry: MetricRegistry = REGISTRY) -> tuple[Dashboard, list[Problem]]:
    """``dashboard`` with every file's overrides applied, in file order, and the problems found."""
    alerts = list(alert_files)
    pages = list(dashboard.pages)
    problems: list[Problem] = []
    overridden: dict[tuple[str, str], Location] = {}
    made: dict[str, Location] = {}  # page id -> the file that made the page
    for source in files:
        index = _find_page(pages, source.page)
        if index is None:
            new_id = page_id(source.page)
            other = next((page for page in pages if page.id == new_id), None)
            if other is not None:
                problems.append(Problem(source.location, _same_id(source.page, other, made.get(other.id))))
                continue
            pages.append(Page(new_id, source.page, ()))
            made[new_id] = source.location
            index = len(pages) - 1
        page = pages[index]
        panels = list(page.panels)
        for override in source.panels:
            key = (page.id, override.id)
            if key in overridden:
                problems.append(Problem(override.location, f"panel {override.id!r} of page {page.title!r} is "
                                                           f"also changed at {overridden[key]}"))
                continue
            overridden[key] = override.location
            position = next((i for i, panel in enumerate(panels) if panel.id == override.id), None)
            if override.remove:
                if position is None:
                    problems.append(Problem(override.location, _no_panel(override.id, page)))
                else:
                    del panels[position]
                continue
            if position is None:
                base = _new_panel(override, alerts, registry)
                if base is None:
                    message = _no_panel(override.id, page) + "; a new panel needs a query or a metric"
                    problems.append(Problem(override.location, message))
                    continue
                panels.append(_changed(base, override))
            else:
                panels[position] = _changed(panels[position], override)
        pages[index] = replace(page, panels=tuple(panels))
    return replace(dashboard, pages=tuple(pages)), problems


def _find_page(pages: list[Page], name: str) -> int | None:
    """The page ``name`` means: by title (case and spacing aside, ``ach`` is ``ACH``) or by id (``quick-start``)."""
    key = title_key(name)
    return next((i for i, page in enumerate(pages) if page.id == key or title_key(page.title) == key), None)


def _same_id(name: str, other: Page, made: Location | None) -> str:
    # Two pages of one id would be one page (the second title lost) and one Grafana file.
    where = f"made at {made}" if made is not None else "a default page"
    return (f"page {name!r} gets the id {other.id!r} of page {other.title!r} ({where}); to change that page, "
            f"write page: {other.title}; for a page of its own, use a title that differs in letters or digits")


def _no_panel(panel_id: str, page: Page) -> str:
    known = ", ".join(panel.id for panel in page.panels) or "none"
    return f"page {page.title!r} has no panel {panel_id!r} (its panels: {known})"


def _new_panel(override: spec.PanelOverride, alerts: list[AlertFile], registry: MetricRegistry) -> Panel | None:
    if override.metric is not None:
        return replace(metric_panel(registry[override.metric], alerts), id=override.id)
    if override.queries is None:
        return None
    return Panel(id=override.id, title=override.id, kind=PanelKind.LINES, queries=override.queries)


def _changed(panel: Panel, override: spec.PanelOverride) -> Panel:
    changes = {
        name: value
        for name in ("title", "kind", "queries", "unit", "description")
        if (value := getattr(override, name)) is not None
    }
    return replace(panel, **changes, source=override.location)


def load(alert_dir: str | Path | None, registry: MetricRegistry = REGISTRY) -> Dashboard:
    """The dashboard for ``alert_dir``: defaults with its alert thresholds and its dashboard files.

    Raises :class:`DashboardProblems` when a dashboard file is wrong. Alert files with problems are
    left out here (the alert compiler reports them).
    """
    from hms_otel.alerts.compiler import load_dir

    alert_files: list[AlertFile] = []
    files: list[spec.DashboardFile] = []
    problems: list[Problem] = []
    if alert_dir is not None and Path(alert_dir).is_dir():
        alert_files, _alert_problems = load_dir(alert_dir, registry)
        paths, problems = spec.iter_dashboard_files(alert_dir)
        for path in paths:
            parsed, found = spec.load_path(path, registry)
            problems.extend(found)
            if parsed is not None:
                files.append(parsed)
    dashboard, found = apply(default_dashboard(alert_files, registry), files, alert_files, registry)
    problems.extend(found)
    if problems:
        raise DashboardProblems(problems)
    return dashboard


__all__ = ["OVERVIEW", "DashboardProblems", "apply", "load"]
