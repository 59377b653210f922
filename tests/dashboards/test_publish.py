"""`hms-ops up` keeps the served dashboard in step with the alert and dashboard files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hms_otel.dashboards.publish import DashboardPublisher
from hms_otel.dashboards.site import Links


def test_publisher_rewrites_the_spec_when_a_file_changes_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    site = tmp_path / "site"
    said: list[tuple[str, bool]] = []
    publisher = DashboardPublisher(site, alerts, Links(alertmanager="http://127.0.0.1:1"),
                                   lambda text, is_error: said.append((text, is_error)))
    publisher.publish()
    spec_path = site / "dashboards.json"
    assert (site / "index.html").is_file() and (site / "uPlot.iife.min.js").is_file()

    def ach_titles() -> list[str]:
        pages = json.loads(spec_path.read_text())["pages"]
        return [p["title"] for p in next(page for page in pages if page["id"] == "ach")["panels"]]

    assert "ACH clearing time" not in ach_titles()
    team = alerts / "ach.dashboard.yaml"
    team.write_text("page: ACH\npanels:\n  - id: ach_latency_ms\n    title: ACH clearing time\n")
    publisher.refresh()
    assert "ACH clearing time" in ach_titles()
    assert said == [("dashboard: updated", False)]

    team.write_text("page: ACH\npanels:\n  - id: ach_latency_ms\n    kind: pie\n")
    os.utime(team, (1, 1))  # a different mtime even on coarse clocks
    publisher.refresh()
    assert "ACH clearing time" in ach_titles()  # the broken file is reported, the last good spec stays
    assert said[-1] == (f"dashboard: {team}:4:11: unknown panel kind 'pie'; use one of lines, bars, stat", True)


def test_publisher_copies_the_probable_sources_the_notifier_journaled(tmp_path: Path) -> None:
    from hms_otel.notify.alert import AlertEvent
    from hms_otel.notify.journal import Journal

    site = tmp_path / "site"
    journal_dir = tmp_path / "notifier" / "journal"
    publisher = DashboardPublisher(site, tmp_path / "alerts", Links(), lambda text, is_error: None, journal_dir)
    publisher.publish()
    assert json.loads((site / "alert-sources.json").read_text()) == {"alerts": []}
    event = AlertEvent(status="firing", name="payments_slow", fingerprint="f1", starts_at="2026-11-26T10:00:00Z",
                       ends_at="", labels={"alertname": "payments_slow", "job": "payments"})
    entry = Journal(journal_dir).add("sms", "+15551234", event)
    assert entry is not None
    entry.message = {"headline": "h", "body": "b", "source": "Database connection pool exhausted"}
    Journal(journal_dir).save(entry)
    publisher.refresh()  # what `hms-ops up` calls every second
    sources = json.loads((site / "alert-sources.json").read_text())["alerts"]
    assert [(s["labels"]["alertname"], s["source"]) for s in sources] == [
        ("payments_slow", "Database connection pool exhausted")]


@pytest.mark.timeout(60)  # before the fix it waited for a reader for ever
def test_the_stack_says_why_the_page_was_not_written_instead_of_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pipe where a page file goes blocked `hms-ops up`'s alert sync; now it is one line, nothing written."""
    import argparse

    from hms_otel.dashboards import uplot
    from hms_otel.stack import alert_sync

    uplot.install_uplot(progress=lambda _text: None)  # from the cache, or npm pack on a fresh machine
    site = tmp_path / "site"
    site.mkdir()
    os.mkfifo(site / "app.js")
    args = argparse.Namespace(alertmanager_url="", logs_url="", notifier_journal="", dashboard_dir=str(site),
                              first=True)
    alert_sync._dashboard(args, None)
    assert capsys.readouterr().err == f"no dashboard: cannot write {site / 'app.js'}: it is a named pipe (FIFO), " \
                                      "not a regular file\n"
    assert [path.name for path in site.iterdir()] == ["app.js"]
