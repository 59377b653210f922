"""Issue 13 class 9: distinct metric names and remembered failures are capped; memory stays flat."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from hms_otel import bounds, metric, selfmetrics
from hms_otel.attributes import MAX_SEQUENCE_ITEMS, value_length_limit
from hms_otel.registry import REGISTRY

from .test_timer import points


@pytest.fixture
def fresh_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Caps, registry and facade caches as if no name had been used, restored after the test."""
    monkeypatch.setattr(REGISTRY, "_definitions", dict(REGISTRY._definitions))
    for cap in (bounds.METRIC_NAMES, bounds.FAILURE_KEYS):
        monkeypatch.setattr(cap, "_keys", set())
        monkeypatch.setattr(cap, "_limit", None)
    monkeypatch.setattr(metric, "_error_counts", type(metric._error_counts)())


def _growth(call: Callable[[int], None], warm_up: int, total: int) -> int:
    """Bytes still allocated after calls warm_up..total, compared with after 0..warm_up."""
    for i in range(warm_up):
        call(i)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(warm_up, total):
            call(i)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _dropped(reader) -> dict[tuple[str, str], float]:
    data = reader.get_metrics_data()
    return {
        (p.attributes["signal"], p.attributes["reason"]): p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "hms_otel_dropped_total"
        for p in m.data.data_points
    }


def test_20k_distinct_names_keep_memory_flat_and_the_excess_is_counted(reader, fresh_caps) -> None:
    growth = _growth(lambda i: metric.increment(f"generated_{i}_total"), warm_up=3_000, total=20_000)
    assert growth < 256 * 1024, f"{growth} bytes for 17,000 names past the cap"
    assert len(bounds.METRIC_NAMES) == 1000
    assert _dropped(reader)[("metric_names", "name_limit")] == 19_000
    assert "generated_999_total" in REGISTRY and "generated_1000_total" not in REGISTRY


def test_50k_distinct_invalid_names_keep_memory_flat(reader, fresh_caps) -> None:
    growth = _growth(lambda i: metric.increment(f"bad name {i}"), warm_up=3_000, total=50_000)
    assert growth < 256 * 1024, f"{growth} bytes for 47,000 invalid names past the cap"
    errors = metric.errors()
    assert len(errors) == 1001  # 1000 itemised, the rest under one entry
    assert errors[("increment", bounds.OTHER)] == 49_000


def test_the_cap_is_set_by_the_environment(reader, fresh_caps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMS_OTEL_MAX_METRIC_NAMES", "5")
    for i in range(10):
        metric.increment(f"capped_{i}_total")
    assert len(bounds.METRIC_NAMES) == 5
    metric.increment("capped_0_total")  # a name already admitted keeps working
    assert _dropped(reader)[("metric_names", "name_limit")] == 5


@pytest.mark.parametrize("kind", ["bytes", "list", "tuple"])
def test_long_bytes_and_sequence_attribute_values_keep_memory_flat(reader, kind: str) -> None:
    """Only str values were cut where recorded: 1500 increments with a 1 MB bytes value grew the process 1.4 GB."""

    def call(i: int) -> None:
        text = f"{i:06d}" + "x" * 1_000_000
        value = {"bytes": text.encode(), "list": [text], "tuple": ("a", (text,))}[kind]
        metric.increment("f_long_note_total", note=value)

    growth = _growth(call, warm_up=10, total=60)
    assert growth < 5 * 2**20, f"{growth} bytes kept for 50 series with a 1 MB {kind} value each"


@pytest.mark.parametrize("kind", ["list", "tuple", "dict"])
def test_sequence_attribute_values_keep_their_first_items_and_the_rest_is_counted(
    reader, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Only each item was bounded: a million-item value was kept whole in every series (8 MB each)."""
    monkeypatch.setattr(selfmetrics, "_warned", set())
    items = 30_000

    def call(i: int) -> None:
        ids = [i, *range(1, items)]
        value = {"list": ids, "tuple": tuple(ids), "dict": dict(zip(map(str, range(items)), ids, strict=True))}[kind]
        metric.increment("f_many_items_total", ids=value)

    growth = _growth(call, warm_up=10, total=60)
    assert growth < 5 * 2**20, f"{growth} bytes kept for 50 series with a {items}-item {kind} each"
    assert _dropped(reader)[("attribute_items", "item_limit")] == 60 * (items - MAX_SEQUENCE_ITEMS)
    said = [r.getMessage() for r in caplog.records if "item_limit" in r.getMessage()]
    assert len(said) == 1 and f"keep their first {MAX_SEQUENCE_ITEMS} items" in said[0]
    kept = [dict(p.attributes)["ids"] for p in points(reader, "f_many_items_total")]
    assert len(kept) == 60 and all(len(value) == MAX_SEQUENCE_ITEMS for value in kept)


def test_long_attribute_keys_are_cut_and_counted_where_recorded(reader, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dict value's keys (and the attributes' own) were kept whole: a 1 MB key per series stayed in memory."""
    monkeypatch.setattr(selfmetrics, "_warned", set())
    limit = value_length_limit()

    def call(i: int) -> None:
        key = f"{i:06d}" + "k" * 1_000_000
        metric.increment("f_long_key_total", ids={key: 1, "short": 2})

    growth = _growth(call, warm_up=10, total=60)
    assert growth < 5 * 2**20, f"{growth} bytes kept for 50 series with a 1 MB dict key each"
    metric.increment("f_long_key_total", **{"t" * 1_000_000: "v"})
    kept = [dict(p.attributes) for p in points(reader, "f_long_key_total")]
    assert len(kept) == 61
    keys = [key for attributes in kept for value in attributes.values() if isinstance(value, dict) for key in value]
    cut = [key for key in keys if key != "short"]
    assert len(cut) == 60 and all(len(key) == limit and "[cut 1000006 chars #" in key for key in cut)
    [top] = [key for attributes in kept for key in attributes if key != "ids"]
    assert len(top) == limit and "[cut 1000000 chars #" in top
    assert _dropped(reader)[("attribute_text", "length_limit")] == 61


def test_log_attributes_are_bounded_as_metric_attributes_are_and_counted(
    reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metric.log left its attributes to the SDK (strings only) and the export guard: a 100k-item list,
    a 1 MB bytes value and a 1 MB dict key went into the batch whole."""
    monkeypatch.setattr(selfmetrics, "_warned", set())
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    limit = value_length_limit()
    failed = metric.errors().get(("log", "log"), 0)
    with metric.use(logger_provider=provider):
        metric.log(
            "big", note="n" * 1_000_000, blob=b"b" * 1_000_000, ids=list(range(100_000)), keyed={"k" * 1_000_000: 1}
        )
    provider.shutdown()
    [record] = [data.log_record for data in exporter.get_finished_logs()]
    attributes = dict(record.attributes)
    assert len(attributes["note"]) == limit and "[cut 1000000 chars #" in attributes["note"]
    assert len(attributes["blob"]) == limit and b"[cut 1000000 bytes #" in attributes["blob"]
    assert attributes["ids"] == tuple(range(MAX_SEQUENCE_ITEMS))
    [key] = attributes["keyed"]
    assert len(key) == limit and "[cut 1000000 chars #" in key
    dropped = _dropped(reader)
    assert dropped[("attribute_items", "item_limit")] == 100_000 - MAX_SEQUENCE_ITEMS
    assert dropped[("attribute_text", "length_limit")] == 3
    assert metric.errors().get(("log", "log"), 0) == failed
