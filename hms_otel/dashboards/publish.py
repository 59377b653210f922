"""Keeps the dashboard a running stack serves in step with the alert and dashboard files."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from hms_otel.dashboards.alert_sources import write_sources
from hms_otel.dashboards.build import DashboardProblems, load
from hms_otel.dashboards.model import Dashboard
from hms_otel.dashboards.site import Links, write_site, write_spec


class DashboardPublisher:
    """Writes the page into ``directory`` and rewrites its spec when a file under ``alert_dir`` changes.

    ``say(text, is_error)`` reports what happened (located problems of a broken file, "updated").
    ``journal_dir``: the notifier's journal; its alerts' probable sources are copied beside the page.
    """

    def __init__(self, directory: Path, alert_dir: Path, links: Links, say: Callable[[str, bool], None],
                 journal_dir: Path | None = None) -> None:
        self.directory = directory
        self.journal_dir = journal_dir
        self.alert_dir = alert_dir
        self.links = links
        self.say = say
        self._signature: tuple[tuple[str, float, int], ...] | None = None

    def _files_signature(self) -> tuple[tuple[str, float, int], ...]:
        if not self.alert_dir.is_dir():
            return ()
        found = []
        for path in sorted(self.alert_dir.rglob("*.y*ml")):
            with contextlib.suppress(OSError):
                stat = path.stat()
                found.append((str(path), stat.st_mtime, stat.st_size))
        return tuple(found)

    def _build(self) -> Dashboard | None:
        try:
            return load(self.alert_dir)
        except DashboardProblems as problems:
            for problem in problems.problems:
                self.say(f"dashboard: {problem}", True)
            return None

    def publish(self) -> None:
        """The page, uPlot and the spec; raises MissingBinary when uPlot is not installed."""
        self._signature = self._files_signature()
        dashboard = self._build() or load(None)  # a broken team file still leaves the default dashboard
        write_site(self.directory, dashboard, self.links, self.journal_dir)

    def refresh(self) -> None:
        """Rewrite the spec if a file changed (a broken file keeps the last good dashboard), and the
        alerts' probable sources if the notifier found new ones."""
        write_sources(self.directory, self.journal_dir)
        signature = self._files_signature()
        if signature == self._signature:
            return
        self._signature = signature
        dashboard = self._build()
        if dashboard is not None:
            write_spec(self.directory, dashboard, self.links)
            self.say("dashboard: updated", False)
