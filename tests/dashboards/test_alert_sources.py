"""What the page receives about probable sources: the notifier's journal copied into alert-sources.json."""

from __future__ import annotations

import json
from pathlib import Path

from hms_otel.dashboards.alert_sources import FILE_NAME, firing_sources, write_sources
from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.journal import Journal


def _event(name: str, status: str = "firing", starts_at: str = "2026-11-26T10:00:00Z") -> AlertEvent:
    return AlertEvent(status=status, name=name, fingerprint=f"fp-{name}", starts_at=starts_at, ends_at="",
                      labels={"alertname": name, "job": "payments", "severity": "critical"})


def _journal(directory: Path, *deliveries: tuple[str, AlertEvent, str | None]) -> Path:
    journal = Journal(directory)
    for channel, event, source in deliveries:
        entry = journal.add(channel, "x", event)
        assert entry is not None
        entry.message = {"headline": "h", "body": "b", "source": source}
        journal.save(entry)
    return directory


def test_one_source_per_firing_alert_the_longest_of_its_channels(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "journal",
                       ("sms", _event("payments_slow"), "Database connection pool exhausted (wai…"),
                       ("slack", _event("payments_slow"), "Database connection pool exhausted (waited 9.8 s)"),
                       ("sms", _event("quiet"), None),
                       ("sms", _event("gone", status="resolved"), "resolved alerts have no source"))
    assert firing_sources(journal) == [{"labels": {"alertname": "payments_slow", "job": "payments",
                                                   "severity": "critical"},
                                        "starts_at": "2026-11-26T10:00:00Z",
                                        "source": "Database connection pool exhausted (waited 9.8 s)",
                                        "message": "b"}]


def test_the_file_is_written_when_it_changes_and_always_exists(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    assert write_sources(site, None)  # no notifier: an empty list, so the page never meets a 404
    assert json.loads((site / FILE_NAME).read_text()) == {"alerts": []}
    journal = _journal(tmp_path / "journal", ("sms", _event("payments_slow"), "pool exhausted"))
    assert write_sources(site, journal)
    assert not write_sources(site, journal)
    assert [a["source"] for a in json.loads((site / FILE_NAME).read_text())["alerts"]] == ["pool exhausted"]
    assert write_sources(site, tmp_path / "no-journal-yet")
    assert json.loads((site / FILE_NAME).read_text()) == {"alerts": []}
