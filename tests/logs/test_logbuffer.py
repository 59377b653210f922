"""BufferedLogExporter with a scripted exporter: outages are bridged in order, the bound drops the oldest and
counts them, shutdown counts what it could not send."""

from __future__ import annotations

import io
import sys
import threading
import time

import pytest
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from hms_otel import _sdk_internals, logbuffer
from hms_otel.logbuffer import BufferedLogExporter
from hms_otel.stack.processes import wait_until


class Collector(LogRecordExporter):
    """Takes batches while ``up``; fails them while down (like an OTLP exporter after its timeout)."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.up.set()
        self.received: list[int] = []
        self.attempts = 0
        self.shut = False

    def export(self, batch):  # type: ignore[override]
        self.attempts += 1
        if any(isinstance(record, str) for record in batch):  # what the OTLP encoder cannot write
            raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
        if not self.up.is_set():
            return LogRecordExportResult.FAILURE
        self.received.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut = True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logbuffer, "_dropped", logbuffer.collections.Counter())


def test_sends_straight_through_when_the_collector_is_up() -> None:
    collector = Collector()
    buffered = BufferedLogExporter(collector, max_records=100)
    assert buffered.export([1, 2, 3]) == LogRecordExportResult.SUCCESS
    assert collector.received == [1, 2, 3] and buffered.pending == 0


def test_an_outage_is_bridged_in_order() -> None:
    collector = Collector()
    buffered = BufferedLogExporter(collector, max_records=1000)
    buffered.export([0, 1])
    collector.up.clear()
    for start in range(2, 50, 4):
        assert buffered.export(list(range(start, start + 4))) == LogRecordExportResult.SUCCESS
    assert buffered.pending == 48
    attempts = collector.attempts
    time.sleep(0.5)
    assert collector.attempts - attempts <= 3, "re-sends back off instead of spinning"
    collector.up.set()
    assert wait_until(lambda: buffered.pending == 0, timeout=20, interval=0.05)
    buffered.export([50])
    assert collector.received == list(range(51))
    assert logbuffer.dropped() == {}


def test_records_the_exporter_cannot_write_are_dropped_alone_and_counted() -> None:
    """One record the encoder raised on failed its batch on every re-send, and held up every record after it
    until the buffer overflowed (and shutdown timed out): nothing after it ever reached the log store."""
    collector = Collector()
    buffered = BufferedLogExporter(collector, max_records=1000)
    assert buffered.export([0, "bad", 1, 2, "worse", 3]) == LogRecordExportResult.SUCCESS
    buffered.export([4, 5])
    assert collector.received == [0, 1, 2, 3, 4, 5] and buffered.pending == 0
    assert logbuffer.dropped() == {"unexportable": 2}


def test_unwritable_records_during_an_outage_leave_the_rest_held_in_order() -> None:
    collector = Collector()
    collector.up.clear()
    buffered = BufferedLogExporter(collector, max_records=1000)
    buffered.export([0, 1, "bad", 2, 3, 4, "bad", 5])
    buffered.export([6, 7])
    assert collector.received == []  # nothing lost while the collector is down
    collector.up.set()
    assert wait_until(lambda: buffered.pending == 0, timeout=20, interval=0.05)
    assert collector.received == list(range(8)) and logbuffer.dropped() == {"unexportable": 2}


def test_an_exporter_raising_a_connection_error_keeps_the_records() -> None:
    collector = Collector()
    down = [True]
    original = collector.export

    def export(batch):  # type: ignore[no-untyped-def]
        if down[0]:
            raise ConnectionRefusedError("collector down")
        return original(batch)

    collector.export = export  # type: ignore[method-assign]
    buffered = BufferedLogExporter(collector, max_records=1000)
    buffered.export([0, 1, 2])
    assert buffered.pending == 3 and logbuffer.dropped() == {}
    down[0] = False
    assert wait_until(lambda: buffered.pending == 0, timeout=20, interval=0.05)
    assert collector.received == [0, 1, 2]


def test_past_the_bound_the_oldest_are_dropped_and_counted() -> None:
    collector = Collector()
    collector.up.clear()
    buffered = BufferedLogExporter(collector, max_records=10)
    for start in range(0, 25, 5):
        buffered.export(list(range(start, start + 5)))
    assert buffered.pending == 10
    assert logbuffer.dropped() == {"buffer_full": 15}
    collector.up.set()
    assert wait_until(lambda: buffered.pending == 0, timeout=20, interval=0.05)
    assert collector.received == list(range(15, 25))


def test_shutdown_sends_what_it_can_and_counts_the_rest() -> None:
    collector = Collector()
    collector.up.clear()
    buffered = BufferedLogExporter(collector, max_records=100)
    buffered.export([1, 2, 3])
    started = time.monotonic()
    buffered.shutdown(timeout_millis=300)
    assert time.monotonic() - started < 5
    assert logbuffer.dropped() == {"shutdown": 3}
    assert collector.shut


def test_shutdown_delivers_the_buffer_when_the_collector_is_back() -> None:
    collector = Collector()
    collector.up.clear()
    buffered = BufferedLogExporter(collector, max_records=100)
    buffered.export([1, 2, 3])
    collector.up.set()
    buffered.shutdown(timeout_millis=5000)
    assert collector.received == [1, 2, 3] and logbuffer.dropped() == {}


def test_bound_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMS_OTEL_LOG_BUFFER_SIZE", "123")
    assert BufferedLogExporter(Collector()).max_records == 123
    monkeypatch.setenv("HMS_OTEL_LOG_BUFFER_SIZE", "lots")
    assert BufferedLogExporter(Collector()).max_records == logbuffer.DEFAULT_MAX_RECORDS


def test_queue_full_drops_of_the_sdk_batch_processor_are_counted() -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    collector = Collector()
    gate = threading.Event()
    original = collector.export

    def slow_export(batch):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return original(batch)

    collector.export = slow_export  # type: ignore[method-assign]
    processor = BatchLogRecordProcessor(
        collector, max_queue_size=10, max_export_batch_size=5, schedule_delay_millis=10_000
    )
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    _sdk_internals.count_log_queue_drops(provider, logbuffer.count_dropped)
    logger = provider.get_logger("test")
    for i in range(40):
        logger.emit(body=f"record {i}")
    gate.set()
    provider.shutdown()
    dropped = logbuffer.dropped().get("queue_full", 0)
    # The SDK checks "queue full" and appends without a lock, so a batch taken in between can make
    # one count too many; never one too few.
    assert dropped > 0 and 40 <= dropped + len(collector.received) <= 41


def test_a_drop_report_with_stderr_closed_is_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app that closed sys.stderr made the once-a-minute report raise into the SDK's worker."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    monkeypatch.setattr(logbuffer, "_last_report", [float("-inf")])  # this drop is reported
    logbuffer.count_dropped("buffer_full", 3)
    assert logbuffer.dropped() == {"buffer_full": 3}


@pytest.mark.parametrize(("value", "expected"), [("-5", logbuffer.DEFAULT_MAX_RECORDS), ("0", 0), ("7", 7)])
def test_the_buffer_size_variable_is_checked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                             value: str, expected: int) -> None:
    """-5 turned the outage buffer off with no word; 0 turns it off on purpose."""
    monkeypatch.setenv("HMS_OTEL_LOG_BUFFER_SIZE", value)
    assert logbuffer.max_records_from_env() == expected
    warning = "HMS_OTEL_LOG_BUFFER_SIZE='-5' is not an integer (0 or more); using '20000'"
    assert (warning in capsys.readouterr().err) is (value == "-5")
