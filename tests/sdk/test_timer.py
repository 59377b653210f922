import asyncio
import functools
import inspect
import sys
import threading
import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import _fastpath, metric
from hms_otel.contract import LATENCY_MS_BUCKETS
from hms_otel.hooks import Hook, Record
from hms_otel.hooks import install as install_hooks
from hms_otel.registry import MetricKindConflict, MetricNameError
from tests.hooks import hook_targets


def points(reader, name):
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for point in m.data.data_points
    ]


def only_point(reader, name, /, **attributes):
    found = [p for p in points(reader, name) if dict(p.attributes) == attributes]
    assert len(found) == 1, (name, attributes, [dict(p.attributes) for p in points(reader, name)])
    return found[0]


def test_sync_function_records_milliseconds_and_keeps_identity(reader):
    @metric.timer("t_sync_ms", channel="web")
    def pay(order: int, *, currency: str = "USD") -> str:
        """Pay an order."""
        return f"{order}{currency}"

    assert pay(5) == "5USD"
    assert pay.__name__ == "pay" and pay.__doc__ == "Pay an order."
    assert str(inspect.signature(pay)) == "(order: int, *, currency: str = 'USD') -> str"
    point = only_point(reader, "t_sync_ms", channel="web")
    assert point.count == 1 and 0 <= point.sum < 1000
    assert tuple(point.explicit_bounds) == tuple(float(b) for b in LATENCY_MS_BUCKETS)


def test_async_function(reader):
    @metric.timer("t_async_ms")
    async def fetch(x):
        await asyncio.sleep(0.01)
        return x * 2

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(21)) == 42
    point = only_point(reader, "t_async_ms")
    assert point.count == 1 and point.sum >= 10


def test_raising_function_records_error_type_and_reraises_same_exception(reader):
    boom = TimeoutError("gateway")

    @metric.timer("t_raise_ms")
    def pay():
        raise boom

    with pytest.raises(TimeoutError) as info:
        pay()
    assert info.value is boom
    assert only_point(reader, "t_raise_ms", **{"error.type": "TimeoutError"}).count == 1


def test_raising_async_function(reader):
    class GatewayDown(Exception):
        pass

    @metric.timer("t_araise_ms", step="pay")
    async def pay():
        raise GatewayDown()

    with pytest.raises(GatewayDown):
        asyncio.run(pay())
    error_type = "test_raising_async_function.<locals>.GatewayDown"
    assert only_point(reader, "t_araise_ms", step="pay", **{"error.type": error_type}).count == 1


def test_context_manager_sync_and_async(reader):
    with metric.timer("t_block_ms", part="a"):
        pass
    with pytest.raises(KeyError), metric.timer("t_block_ms", part="a"):
        raise KeyError("x")

    async def run():
        async with metric.timer("t_block_ms", part="b"):
            await asyncio.sleep(0)

    asyncio.run(run())
    assert only_point(reader, "t_block_ms", part="a").count == 1
    assert only_point(reader, "t_block_ms", part="a", **{"error.type": "KeyError"}).count == 1
    assert only_point(reader, "t_block_ms", part="b").count == 1


def test_one_timer_object_nested(reader):
    timer = metric.timer("t_nested_ms")
    with timer, timer:
        pass
    assert only_point(reader, "t_nested_ms").count == 2


def test_bare_decorator_names_metric_after_function(reader):
    @metric.timer
    def renew_licence():
        return 1

    assert renew_licence() == 1
    assert only_point(reader, "renew_licence_ms").count == 1


def test_invalid_name_fails_at_decoration():
    with pytest.raises(MetricNameError, match="position 7"):
        metric.timer("payment latency")


def test_contract_name_of_another_kind_fails_at_decoration():
    with pytest.raises(MetricKindConflict, match="'refund_pdf_total' is a counter"):
        metric.timer("refund_pdf_total")


def test_record_failure_never_reaches_the_caller(reader, caplog, monkeypatch):
    def broken_record(*args, **kwargs):
        raise RuntimeError("exporter state corrupted")

    # what a failing SDK (or fast path) would do inside record()
    monkeypatch.setattr(_fastpath.Series, "record", broken_record)
    timer = metric.timer("t_broken_ms")

    @timer
    def work():
        return "done"

    with caplog.at_level("WARNING", logger="hms_otel"):
        assert work() == "done"
        assert work() == "done"
        with pytest.raises(KeyError), timer:  # the application's own exception still propagates
            raise KeyError("app")
    assert metric.errors()[("timer", "t_broken_ms")] == 3
    assert [r.getMessage() for r in caplog.records].count(
        "hms_otel: metric.timer('t_broken_ms') failed and was skipped: exporter state corrupted"
    ) == 1


def test_decorating_a_non_callable_is_a_type_error():
    with pytest.raises(TypeError):
        metric.timer("t_nc_ms")(42)


def test_generator_functions_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"cannot time generator .*with metric\.timer"):

        @metric.timer("t_gen_ms")
        def rows():
            yield 1


def test_classes_are_refused_with_a_hint():
    """Wrapped in a function, a class broke isinstance() and subclassing wherever it was used."""
    with pytest.raises(TypeError, match=r"cannot time class .*Payment: decorate the method .*__init__"):

        @metric.timer("t_class_ms")
        class Payment:
            pass


def test_overlapping_async_with_on_one_timer_records_each_blocks_own_duration(reader):
    timer = metric.timer("t_overlap_ms")

    async def block(delay: float, seconds: float) -> None:
        await asyncio.sleep(delay)
        async with timer:
            await asyncio.sleep(seconds)

    async def both() -> None:
        # Staggered: 300 ms from t=0 and 400 ms from t=0.1 s. One shared stack
        # of start times recorded these as 200 and 500 ms.
        await asyncio.gather(block(0, 0.3), block(0.1, 0.4))

    asyncio.run(both())
    point = only_point(reader, "t_overlap_ms")
    assert point.count == 2
    assert point.min >= 300 and point.max >= 400  # sleeps last at least this long


def test_one_timer_object_in_two_threads(reader):
    timer = metric.timer("t_threads_ms")
    inside = threading.Barrier(2)

    def work() -> None:
        with timer:
            inside.wait(timeout=10)
            time.sleep(0.05)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    point = only_point(reader, "t_threads_ms")
    assert point.count == 2 and point.min >= 50


def test_timer_and_hook_timer_get_the_same_boundaries_from_a_plain_sdk():
    # No HMS set-up, no View: boundaries travel with the instruments as advisory.
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):

        @metric.timer("t_plain_ms")
        def decorated() -> None:
            pass

        decorated()
        hook = Hook("tests.hooks.hook_targets:price", (Record("t_plain_hook_ms", "timer"),))
        installation = install_hooks([hook], provider.get_meter("tests"))
        try:
            hook_targets.price("a")
        finally:
            installation.remove()
    bounds = {name: tuple(only_point(memory, name).explicit_bounds) for name in ("t_plain_ms", "t_plain_hook_ms")}
    provider.shutdown()
    assert bounds == {"t_plain_ms": LATENCY_MS_BUCKETS, "t_plain_hook_ms": LATENCY_MS_BUCKETS}


def test_use_reaches_timers_created_before_it():
    timer = metric.timer("t_rebound_ms")
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    providers = [MeterProvider(metric_readers=[r], shutdown_on_exit=False) for r in (first, second)]
    for provider in providers:
        with metric.use(meter_provider=provider), timer:
            pass
    assert only_point(first, "t_rebound_ms").count == 1
    assert only_point(second, "t_rebound_ms").count == 1
    for provider in providers:
        provider.shutdown()


def test_timer_above_staticmethod_and_classmethod_keeps_the_descriptor(reader):
    class Gateway:
        @metric.timer("t_static_ms")
        @staticmethod
        def fee(amount):
            return amount / 100

        @metric.timer("t_class_ms")
        @classmethod
        def build(cls, name):
            return cls, name

        @metric.timer
        @staticmethod
        def bare_static():
            return "s"

    assert Gateway().fee(250) == 2.5 and Gateway.fee(100) == 1.0
    assert Gateway().build("x") == (Gateway, "x") and Gateway.build("y") == (Gateway, "y")
    assert Gateway.bare_static() == "s"
    assert Gateway.fee.__name__ == "fee"
    assert only_point(reader, "t_static_ms").count == 2
    assert only_point(reader, "t_class_ms").count == 2
    assert only_point(reader, "bare_static_ms").count == 1


def test_plain_function_returning_a_coroutine_is_timed_until_awaited(reader):
    def sync_decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        return wrapper

    class Handler:
        async def __call__(self):
            await asyncio.sleep(0.05)
            return "handled"

    @metric.timer("t_wrapped_async_ms")
    @sync_decorator
    async def fetch():
        await asyncio.sleep(0.05)
        raise TimeoutError("slow")

    handler = metric.timer("t_callable_ms")(Handler())
    assert asyncio.run(handler()) == "handled"
    with pytest.raises(TimeoutError, match="slow"):
        asyncio.run(fetch())
    assert only_point(reader, "t_callable_ms").sum >= 40
    assert only_point(reader, "t_wrapped_async_ms", **{"error.type": "TimeoutError"}).sum >= 40


def test_blocks_left_open_by_suspended_generators_are_not_copied_on_enter(reader):
    """Each `with metric.timer(...)` copied and scanned every block left open by a suspended
    generator in its context: 98x slower with 20,000 of them (benchmarks/bench_facades.py)."""

    def rows():
        with metric.timer("t_rows_ms"):
            yield 1
            yield 2

    timer = metric.timer("t_after_rows_ms")
    streams, stored = [], {}
    for count in (10, 1000):
        while len(streams) < count:
            stream = rows()
            next(stream)
            streams.append(stream)
        with timer:
            stored[count] = sys.getsizeof(metric._open_blocks.get())
    assert stored[1000] == stored[10]  # what entering stores does not grow with the blocks left open
    for stream in streams:  # closed oldest first: each block is left below the later ones
        assert list(stream) == [2]
    assert only_point(reader, "t_rows_ms").count == 1000
    assert only_point(reader, "t_after_rows_ms").count == 2
    assert metric._open_blocks.get() is None
