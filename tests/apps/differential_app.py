"""Make the same calls through the plain SDK (metrics named ``sdk_*``) and
through the facades (``fp_*``), on the provider the HMS distro installed.

    opentelemetry-instrument python differential_app.py MODE [THREADS]

MODE: ``single`` (also long attribute values, the 2000-set cardinality limit
and the cap on distinct metric names), ``threads`` (THREADS threads calling at once), ``fork``
(the parent records, forks, the child records more) or ``use`` (a
``metric.use`` block in between). Both paths share the
resource, the ``hms_otel`` scope and the readers, so what the receiver gets
for ``sdk_X`` and ``fp_X`` must be the same but for the name prefix.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from opentelemetry import metrics

from hms_otel import __version__, _fastpath, metric, sdk
from hms_otel import instruments as factory
from hms_otel.attributes import bounded_values
from hms_otel.hooks import Hook, HookInstrumentor, Record
from hms_otel.registry import REGISTRY, Kind

DEFINITIONS: list[tuple[str, Kind, str, str, tuple[float, ...] | None]] = [
    ("latency_ms", Kind.HISTOGRAM, "ms", "Latency of a call", None),
    ("size_bytes", Kind.HISTOGRAM, "By", "Size of a payload", (10.0, 100.0, 1000.0)),
    ("ratio", Kind.HISTOGRAM, "1", "A histogram with the default boundaries", None),
    ("jobs_total", Kind.COUNTER, "{job}", "Jobs done", None),
    ("cardinality_total", Kind.COUNTER, "{call}", "Many attribute sets", None),
    ("depth", Kind.GAUGE, "{item}", "Queue depth", None),
    ("timer_ms", Kind.HISTOGRAM, "ms", "Timed steps", None),
    ("hook_ms", Kind.HISTOGRAM, "ms", "Hooked calls", None),
    ("hook_total", Kind.COUNTER, "{call}", "Hooked calls counted", None),
    ("hook_active", Kind.UPDOWN_COUNTER, "{call}", "Hooked calls in flight", None),
]
# Not registered on the facade side (``fp_capped<i>_total``): the facades create them on first
# use, up to HMS_OTEL_MAX_METRIC_NAMES (the test sets 3); the SDK side gets the admitted ones.
CAPPED_NAMES = 5
for index in range(CAPPED_NAMES):
    REGISTRY.define(f"sdk_capped{index}_total", Kind.COUNTER, "")
for prefix in ("sdk", "fp"):
    for base, kind, unit, description, buckets in DEFINITIONS:
        REGISTRY.define(f"{prefix}_{base}", kind, unit, description, buckets=buckets)

_meter = metrics.get_meter(_fastpath.SCOPE, __version__)  # the facades' meter
_raw: dict[str, Any] = {}


def _instrument(base: str) -> Any:
    if base not in _raw:  # the instrument the SDK path gets: the one factory, bucket advisory included
        _raw[base] = factory.create(_meter, REGISTRY[f"sdk_{base}"])
    return _raw[base]


def both(base: str, value: float, attributes: dict[str, Any]) -> None:
    """One call on each path; the SDK side gets the values cut as the plain facade path cuts them."""
    kind = next(d[1] for d in DEFINITIONS if d[0] == base)
    raw = _instrument(base)
    facade_attributes, attributes = attributes, bounded_values(dict(attributes))
    if kind is Kind.HISTOGRAM:
        raw.record(value, attributes or None)
        metric.observe(f"fp_{base}", value, **facade_attributes)
    elif kind is Kind.COUNTER:
        raw.add(value, attributes or None)
        metric.increment(f"fp_{base}", value, **facade_attributes)
    else:
        raw.set(value, attributes or None)
        metric.gauge(f"fp_{base}", value, **facade_attributes)


def calls(tag: str, rounds: int = 40) -> None:
    """A deterministic mix: dyadic values (sums exact in any order), values on
    bucket boundaries, 0/2/5 attributes, non-string values that compare equal
    (1, 1.0, True), attribute order, and values the SDK drops."""
    five = {"a": "1", "b": "2", "c": "3", "d": "4", "e": tag}
    for i in range(rounds):
        value = (i % 13) * 0.25
        both("latency_ms", value * 40, {})
        both("latency_ms", 5.0 if i % 2 else 10.0, {"channel": "web", "agency": "dmv"})
        both("latency_ms", value, five)
        both("size_bytes", [10.0, 100.0, 1000.0, 5000.0, 0.0][i % 5], {"kind": "upload"})
        both("ratio", value, {"flag": True})
        both("ratio", value + 1, {"flag": 1})
        both("ratio", value + 2, {"flag": 1.0})
        both("jobs_total", 1, {"queue": "a", "tier": "x"})
        both("jobs_total", 1, {"tier": "x", "queue": "a"})  # same set, other order
        both("jobs_total", value, {"queue": tag})
        both("jobs_total", 2, {})
        both("depth", i, {"queue": tag})
    both("jobs_total", -1, {"queue": "negative"})  # dropped by the SDK
    both("latency_ms", float("nan"), {"channel": "nan"})  # dropped by the SDK
    both("depth", float("inf"), {"queue": tag})  # dropped: the gauge keeps its last value


class _DifferentialHooks(HookInstrumentor):
    """The hooks engine in a layer package's scope: fp_hook_* through the
    engine, sdk_hook_* by hand on that scope's SDK instruments."""

    scope = "differential_hooks"
    scope_version = "1.2.3"
    hooks = (
        Hook(
            target="differential_target:handle",
            record=(
                Record(metric="fp_hook_ms", kind="timer", attributes={"kind": "arg.kind", "outcome": "outcome"}),
                Record(metric="fp_hook_total", kind="counter", attributes={"kind": "arg.kind", "layer": "const:x"}),
                Record(metric="fp_hook_active", kind="updown", attributes={"kind": "arg.kind"}),
            ),
        ),
    )


def hooked_calls(rounds: int = 30) -> None:
    import differential_target

    meter = metrics.get_meter(_DifferentialHooks.scope, _DifferentialHooks.scope_version)
    timer = factory.create(meter, REGISTRY["sdk_hook_ms"])
    counter = factory.create(meter, REGISTRY["sdk_hook_total"])
    counter.add(0, {"layer": "x"})  # the engine starts a counter's constant-attribute series at 0
    active = factory.create(meter, REGISTRY["sdk_hook_active"])
    for i in range(rounds):
        kind, ok = ("a", "b", "c")[i % 3], i % 4 != 0
        active.add(1, {"kind": kind})
        active.add(-1, {"kind": kind})
        try:
            differential_target.handle(kind, ok)
        except ValueError:
            outcome = "error"
        else:
            outcome = "ok"
        timer.record(0.0, {"kind": kind, "outcome": outcome})
        counter.add(1, {"kind": kind, "layer": "x"})


def cardinality() -> None:
    for i in range(2005):  # 2000 sets, then the overflow set
        both("cardinality_total", 1, {"i": str(i)})


def long_values() -> None:
    """Attribute values over OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: cut where recorded, on both paths."""
    long_text = "é" * 5000
    for _ in range(3):
        both("jobs_total", 1, {"queue": "long", "note": long_text})
        both("latency_ms", 7.0, {"note": long_text})
        both("latency_ms", 9.0, {"note": long_text + "x"})  # cut, still a series of its own (length, hash)
        both("depth", 3, {"note": long_text, "n": 1})
        both("jobs_total", 1, {"queue": "blob", "note": long_text.encode()})  # bytes and sequences: cut too
        both("jobs_total", 1, {"queue": "tags", "note": ["short", long_text]})
        both("jobs_total", 1, {"queue": "shard", "shard": 2**64})  # past int64: as text, not dropped
    # cut where recorded, not only at export (hms_otel.export_guard cuts again): the fast path
    # keeps no long value, neither in its series nor in its call cache
    kept = [
        value
        for stream in _fastpath._streams.values()
        for series in stream.series.values()
        for value in series.attributes.values()
    ]
    kept += [item[1] for key in _fastpath.call_cache for item in key[2:]]
    longest = max(len(v) if isinstance(v, (str, bytes)) else len(repr(v)) for v in kept)
    assert kept and longest < 5000, "a long value is kept"


def capped_names() -> None:
    """New names past HMS_OTEL_MAX_METRIC_NAMES are refused (and counted) on the fast path too."""
    for _ in range(2):
        for index in range(CAPPED_NAMES):
            metric.increment(f"fp_capped{index}_total", 1, k="v")
            if index < 3:
                factory.create(_meter, REGISTRY[f"sdk_capped{index}_total"]).add(1, {"k": "v"})


def flush() -> None:
    providers = sdk.installed()
    assert providers is not None and _fastpath.enabled(), "the distro did not enable the fast path"
    on_fast_path = {name for (_, name), stream in _fastpath._streams.items() if stream.measured}
    assert "fp_jobs_total" in on_fast_path, on_fast_path  # so the comparison is not SDK against SDK
    if _DifferentialHooks().is_instrumented_by_opentelemetry:
        assert {"fp_hook_total", "fp_hook_ms", "fp_hook_active"} <= on_fast_path, on_fast_path
    providers.force_flush(30)


def main() -> None:
    mode = sys.argv[1]
    if mode == "single":
        _DifferentialHooks().instrument()
        hooked_calls()
        calls("main")
        long_values()
        capped_names()
        cardinality()
        # the timer: attribute sets (error.type included) and counts compare, durations do not
        raw = _instrument("timer_ms")
        for step in ("t", "y" * 5000):  # a value cut to the limit, error.type added after
            timed = metric.timer("fp_timer_ms", step=step)(lambda fail: 1 / 0 if fail else None)
            cut = bounded_values({"step": step})
            for fail in (False, True, False):
                try:
                    timed(fail)
                except ZeroDivisionError:
                    raw.record(1.0, {**cut, "error.type": "ZeroDivisionError"})
                else:
                    raw.record(1.0, cut)
            with metric.timer("fp_timer_ms", step=step):
                raw.record(1.0, cut)
    elif mode == "threads":
        count = int(sys.argv[2])
        workers = [threading.Thread(target=calls, args=(f"t{n}", 200)) for n in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    elif mode == "use":  # metric.use(...) sends the facades elsewhere, then the fast path resumes
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        calls("before", 5)
        reader = InMemoryMetricReader()
        with metric.use(meter_provider=MeterProvider(metric_readers=[reader])):
            assert not _fastpath.enabled()
            metric.increment("fp_jobs_total", 7, queue="inside")
        data = reader.get_metrics_data()
        inside = [
            point.value
            for resource_metrics in data.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for item in scope_metrics.metrics
            if item.name == "fp_jobs_total"
            for point in item.data.data_points
        ]
        assert inside == [7], inside
        calls("after", 5)
    elif mode == "fork":
        calls("parent")
        flush()
        pid = os.fork()
        if pid == 0:
            calls("child", 10)
            flush()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        calls("parent-after", 5)
    flush()


if __name__ == "__main__":
    main()
