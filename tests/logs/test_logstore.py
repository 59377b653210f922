"""hms_otel.logstore against the real VictoriaLogs: filters, newest first, time ranges, top messages, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from hms_otel.logstore import (
    LogQueryError,
    LogStore,
    LogStoreUnavailable,
    build_query,
    parse_duration,
    parse_time,
)
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import VictoriaLogs

from .conftest import flush, ingest, now_ns

UTC = dt.timezone.utc


def test_durations() -> None:
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    for bad in ("", "10", "10x", "m", "-5m", "1h foo"):
        with pytest.raises(ValueError, match="use a number and a unit"):
            parse_duration(bad)


def test_times() -> None:
    now = dt.datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    assert parse_time("2026-11-26T19:30:00Z", now) == dt.datetime(2026, 11, 26, 19, 30, tzinfo=UTC)
    assert parse_time("2026-11-26 19:30", now) == dt.datetime(2026, 11, 26, 19, 30, tzinfo=UTC)
    assert parse_time("2026-11-26T19:30:00.123456789Z", now).microsecond == 123456
    assert parse_time("10m", now) == dt.datetime(2026, 11, 26, 19, 50, tzinfo=UTC)
    assert parse_time("now", now) == now
    assert parse_time("1764187200", now) == dt.datetime(2025, 11, 26, 20, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday", now)
    for too_far in ("99999999999d", "3000000d"):  # OverflowError in datetime arithmetic, not ValueError
        with pytest.raises(ValueError, match="too far back"):
            parse_time(too_far, now)
    with pytest.raises(ValueError, match="year 9999"):
        parse_time("999999999999999999999999", now)


def test_query_quotes_user_text() -> None:
    assert build_query() == "*"
    query = build_query('say "hi" \\ (x)', service="pay", level="warn")
    assert query == '{"service.name"="pay", "level"="warn"} "say \\"hi\\" \\\\ (x)"'


@pytest.fixture(scope="module")
def records(victorialogs: VictoriaLogs) -> dict[str, int]:
    """Known records: two services, three levels, spread over the last 90 minutes."""
    base = now_ns(-90 * 60)
    minute = 60 * 10**9
    ingest(
        victorialogs.url,
        "store-payments",
        [
            ("Payment #1 accepted", "info", base, {"payment_id": "1"}),
            ("Payment #2 timed out", "warn", base + 30 * minute, {"payment_id": "2"}),
            ("Payment #3 timed out", "warn", base + 60 * minute, {"payment_id": "3"}),
            ("Gateway refused the card", "error", base + 80 * minute, {"payment_id": "4"}),
            ("Payment #5 timed out", "warn", base + 85 * minute, {"payment_id": "5"}),
        ],
    )
    ingest(victorialogs.url, "store-jobs", [("Job 7 timed out", "warn", base + 70 * minute, {})], layer="SVC")
    flush(victorialogs.url)
    return {"base": base}


def test_search_by_service_is_newest_first(victorialogs: VictoriaLogs, records: dict) -> None:
    found = LogStore(victorialogs.url).search(service="store-payments")
    assert [r.fields["payment_id"] for r in found] == ["5", "4", "3", "2", "1"]
    assert found[0].service == "store-payments" and found[0].layer == "ACH" and found[0].level == "warn"


def test_search_by_text_layer_level_and_limit(victorialogs: VictoriaLogs, records: dict) -> None:
    store = LogStore(victorialogs.url)
    assert {r.service for r in store.search("timed out")} == {"store-payments", "store-jobs"}
    assert [r.message for r in store.search(layer="SVC")] == ["Job 7 timed out"]
    assert [r.message for r in store.search(level="error")] == ["Gateway refused the card"]
    assert [r.fields["payment_id"] for r in store.search("timed out", service="store-payments", limit=2)] == ["5", "3"]
    assert [r.fields["payment_id"] for r in store.search(logsql="payment_id:=2")] == ["2"]


def test_search_by_time_range(victorialogs: VictoriaLogs, records: dict) -> None:
    base = dt.datetime.fromtimestamp(records["base"] / 1e9, UTC)
    store = LogStore(victorialogs.url)
    window = store.search(
        service="store-payments", start=base + dt.timedelta(minutes=20), end=base + dt.timedelta(minutes=61)
    )
    assert [r.fields["payment_id"] for r in window] == ["3", "2"]
    recent = store.search(service="store-payments", start=dt.datetime.now(UTC) - dt.timedelta(minutes=15))
    assert [r.fields["payment_id"] for r in recent] == ["5", "4"]


def test_top_messages_of_a_service(victorialogs: VictoriaLogs, records: dict) -> None:
    store = LogStore(victorialogs.url)
    now = dt.datetime.now(UTC)
    ingest(
        victorialogs.url,
        "store-top",
        [("Disk nearly full", "warn", now_ns(-5), {})] * 3
        + [("Payment gateway down", "error", now_ns(-4), {})] * 2
        + [("All good", "info", now_ns(-3), {})] * 9,
    )
    flush(victorialogs.url)
    top = store.top_messages("store-top", start=now - dt.timedelta(minutes=5), end=now + dt.timedelta(minutes=1), n=2)
    assert top == [("Disk nearly full", 3), ("Payment gateway down", 2)]
    assert store.count('{"service.name"="store-top"}') == 14


def test_malformed_query_is_one_line_saying_what_is_wrong(victorialogs: VictoriaLogs) -> None:
    with pytest.raises(LogQueryError) as error:
        LogStore(victorialogs.url).search(logsql="foo(")
    message = str(error.value)
    assert "\n" not in message and "cannot parse" in message and "foo(" in message


def test_empty_time_range_is_refused(victorialogs: VictoriaLogs) -> None:
    now = dt.datetime.now(UTC)
    with pytest.raises(LogQueryError, match="time range is empty"):
        LogStore(victorialogs.url).search(start=now, end=now - dt.timedelta(minutes=1))


def test_store_not_running_names_hms_ops_up() -> None:
    with pytest.raises(LogStoreUnavailable, match="`hms-ops up`"):
        LogStore(f"http://127.0.0.1:{free_port()}").search("x")
