"""hms_otel.logstore against the real VictoriaLogs: filters, newest first, time ranges, top messages, errors."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from hms_otel.logstore import (
    LogQueryError,
    LogStore,
    LogStoreError,
    LogStoreUnavailable,
    build_query,
    filter_problem,
    parse_duration,
    parse_time,
)
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import VictoriaLogs

from .conftest import flush, ingest, now_ns
from .fakestore import body, endless, fake_store, silent, trickle, trickled_headers

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
        LogStore(victorialogs.url).search(logsql="foo:>")
    message = str(error.value)
    assert "\n" not in message and "cannot parse" in message and "foo:>" in message


def test_empty_time_range_is_refused(victorialogs: VictoriaLogs) -> None:
    now = dt.datetime.now(UTC)
    with pytest.raises(LogQueryError, match="time range is empty"):
        LogStore(victorialogs.url).search(start=now, end=now - dt.timedelta(minutes=1))


def test_store_not_running_names_hms_ops_up() -> None:
    with pytest.raises(LogStoreUnavailable, match="`hms-ops up`"):
        LogStore(f"http://127.0.0.1:{free_port()}").search("x")


# -- a log store that answers wrongly (tests/logs/fakestore.py) ---------------------------------------------------


def test_an_endless_answer_is_cut_at_a_size_saying_which(monkeypatch: pytest.MonkeyPatch) -> None:
    """`logs search` against a store sending without end grew to 7.7 GB; a 1 GiB answer was read whole."""
    from hms_otel import http, logstore

    monkeypatch.setattr(logstore, "MAX_ANSWER_BYTES", 2**20)
    with fake_store(endless) as url:
        with pytest.raises(http.AnswerTooBig, match=r"the answer is over 1 MiB"):
            http.request("GET", url, max_bytes=2**20)
        with pytest.raises(LogStoreError, match=rf"^the log store at {url} gave up: .*over 1 MiB") as raised:
            LogStore(url).search("x")
    assert "\n" not in str(raised.value)


def test_an_answer_a_byte_at_a_time_ends_at_the_deadline() -> None:
    """Each read waited at most the timeout, the whole answer without end (one byte a second never returned)."""
    from hms_otel import http

    with fake_store(trickle) as url:
        started = time.monotonic()
        with pytest.raises(http.AnswerTooSlow, match=r"the answer took over 1 s"):
            http.request("GET", url, timeout=5, deadline=1)
        with pytest.raises(LogStoreError, match=r"gave up: .*took over 0.9 s"):
            LogStore(url, timeout=0.3).search("x")
        assert time.monotonic() - started < 30  # liveness only


def test_headers_a_byte_at_a_time_end_at_the_deadline() -> None:
    """The deadline was checked only between reads of the body: headers a byte every 0.2 s (each read well
    within the timeout) held http.request, `logs search` and `logs tail` without end."""
    from hms_otel import http

    with fake_store(trickled_headers) as url:
        with pytest.raises(http.AnswerTooSlow, match=r"the answer took over 0.6 s"):
            http.request("GET", url, timeout=5, deadline=0.6)
        with pytest.raises(LogStoreError, match=r"gave up: .*took over 0.9 s"):
            LogStore(url, timeout=0.3).search("x")
        with pytest.raises(LogStoreUnavailable, match=r"its answer's headers took over 0.9 s"):
            next(LogStore(url, timeout=0.3).tail())


@pytest.mark.parametrize(("answer", "says"), [
    (b"this is not json\n", "line 1: not JSON"),
    (b'{"_msg":"\xff\xfe"}\n', "not UTF-8 at byte 9"),
    (b'{"_msg":"hi"}\n', "line 1: a record without _time"),
    (b'{"_time":"soon","_msg":"hi"}\n', "line 1: _time 'soon' is not a time"),
    (b"[1,2]\n", "line 1: a JSON list, not an object"),
    (b'{"_time":"2025-01-01T00:00:00Z","_msg":123}\n', "line 1: field '_msg' is a JSON int, not a string"),
    (b'{"_time":"2025-01-01T00:00:00Z","service.name":null}\n', "field 'service.name' is a JSON NoneType"),
])
@pytest.mark.parametrize("how", ["search", "tail"])
def test_an_answer_that_is_not_victorialogs_json_says_so(answer: bytes, says: str, how: str) -> None:
    """These were JSONDecodeError, UnicodeDecodeError, ValueError, AttributeError, TypeError: internal errors."""
    with fake_store(body(answer)) as url, pytest.raises(LogStoreError) as raised:
        list(LogStore(url).search("x") if how == "search" else LogStore(url).tail())
    message = str(raised.value)
    assert message.startswith(f"the log store at {url} answered something that is not VictoriaLogs JSON (")
    assert says in message and "\n" not in message


def test_counts_that_are_no_counts_say_so() -> None:
    with fake_store(body(b'{"_msg":"a","hits":"many"}\n')) as url, pytest.raises(LogStoreError, match="not a count"):
        LogStore(url).top_messages("svc", start=dt.datetime.now(UTC) - dt.timedelta(minutes=1),
                                   end=dt.datetime.now(UTC))


def test_tail_against_a_store_that_never_answers_times_out() -> None:
    """`tail` waited for the answer's headers without a timeout (urlopen(timeout=None)): a silent server hung it."""
    with fake_store(silent) as url, pytest.raises(LogStoreUnavailable, match="timed out"):
        next(LogStore(url, timeout=0.5).tail())


def test_tail_against_something_that_is_not_http_is_unavailable() -> None:
    with fake_store(lambda conn: conn.sendall(b"\x00\x01garbage not http\r\n\r\n")) as url:
        with pytest.raises(LogStoreUnavailable, match=r"no HTTP answer \(BadStatusLine\)"):
            next(LogStore(url).tail())


@pytest.mark.parametrize(("logsql", "says"), [
    ("x) or (*", "unbalanced ')'"),
    ("*) | stats count() as n | filter (n:*", "unbalanced ')'"),
    ("* | stats count()", "a pipe '|'"),
    ("(a or b", "unbalanced '('"),
    ('"a', 'an unclosed " quote'),
])
def test_a_logsql_that_is_not_one_filter_is_refused(logsql: str, says: str) -> None:
    """`--service svc-a --logsql 'x) or (*'` found the records of every service."""
    with pytest.raises(LogQueryError, match=re.escape(says)):
        build_query(service="svc-a", logsql=logsql)


def test_a_logsql_filter_may_hold_quoted_parentheses_and_pipes_in_a_subquery() -> None:
    for logsql in ('"a)" or "(b"', "'x|y'", "user_id:in(_time:5m | fields user_id)", r'"say \")" x', "`a\\` b"):
        assert filter_problem(logsql) is None, logsql
    assert build_query(service="s", logsql='"a)"') == '{"service.name"="s"} ("a)")'


def test_text_that_is_not_utf8_is_a_query_error() -> None:
    with pytest.raises(LogQueryError, match=r"not valid UTF-8 \(\\xff in it\)"):
        LogStore(f"http://127.0.0.1:{free_port()}").search("a\udcff")


def test_a_very_long_query_error_is_shortened(victorialogs: VictoriaLogs) -> None:
    """A 120 000-character TEXT came back whole in VictoriaLogs' "query arg length cannot exceed" error."""
    with pytest.raises(LogQueryError) as raised:
        LogStore(victorialogs.url).search("a" * 120_000)
    message = str(raised.value)
    assert "cannot exceed" in message and len(message) < 1000 and "\n" not in message
