"""The engine: what a hook records, and that the hooked callable stays the same callable."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import threading

import pytest

from hms_otel.hooks import Hook, HookConfigError, Record, install
from hms_otel.registry import REGISTRY, Kind
from tests.hooks import hook_targets as targets

PRICE = "tests.hooks.hook_targets:price"


def attrs(**values: object) -> frozenset:
    return frozenset(values.items())


def test_timer_keeps_result_exception_and_identity(metrics, name) -> None:
    original = targets.price
    installed = install(
        [Hook(PRICE, (Record(name, "timer", {"item": "arg.item", "outcome": "outcome"}),))], metrics.meter
    )
    try:
        assert targets.price is not original
        assert targets.price("pen", 2) == 5.0
        with pytest.raises(targets.PriceError, match="negative quantity") as caught:
            targets.price("pen", -1)
        assert caught.type is targets.PriceError
        assert inspect.signature(targets.price) == inspect.signature(original)
        assert targets.price.__wrapped__ is original
        assert (targets.price.__name__, targets.price.__doc__) == (original.__name__, original.__doc__)
    finally:
        installed.remove()
    assert targets.price is original
    points = metrics.points(name)
    assert points[attrs(item="pen", outcome="ok")].count == 1
    assert points[attrs(item="pen", outcome="error")].count == 1
    metric = metrics.collect()[name]
    assert metric.unit == "ms"
    assert REGISTRY[name].kind is Kind.HISTOGRAM


def test_arguments_by_position_keyword_and_default(metrics, name) -> None:
    record = Record(name, "counter", {"item": "arg.item", "n": "arg.quantity", "cur": "arg.currency"})
    with_installed(
        metrics,
        [Hook(PRICE, (record,))],
        lambda: (targets.price("a"), targets.price("b", 3), targets.price(item="c", quantity=4, currency="EUR")),
    )
    assert set(metrics.points(name)) == {
        attrs(),  # the counter's series without attributes, exported at 0 from install
        attrs(item="a", n=1, cur="USD"),
        attrs(item="b", n=3, cur="USD"),
        attrs(item="c", n=4, cur="EUR"),
    }


def test_values_from_return_value_and_conditions(metrics, name) -> None:
    hooks = [
        Hook(
            PRICE,
            (
                Record(name + "_value", "histogram", value="return", on="return"),
                Record(name + "_big", "counter", when="arg.quantity", on="return", value="len(arg.item)"),
                Record(name + "_errors", "counter", {"error.type": "error.type"}, on="error"),
            ),
        ),
    ]

    def calls() -> None:
        targets.price("book", 4)
        targets.price("pen", 0)
        with pytest.raises(targets.PriceError):
            targets.price("pen", -1)

    with_installed(metrics, hooks, calls)
    (value,) = metrics.points(name + "_value").values()
    assert (value.count, value.sum) == (2, 10.0)
    # only "book": quantity 0 fails `when`, and the raising call is not a return
    assert metrics.points(name + "_big")[attrs()].value == 4
    assert metrics.points(name + "_errors")[attrs(**{"error.type": "PriceError"})].value == 1


def test_async_function(metrics, name) -> None:
    original = targets.fetch
    hook = Hook(
        "tests.hooks.hook_targets:fetch",
        (Record(name, "timer", {"agency": "arg.agency", "outcome": "outcome", "status": "return.status"}),),
    )
    installed = install([hook], metrics.meter)
    try:
        assert inspect.iscoroutinefunction(targets.fetch)
        assert asyncio.run(targets.fetch("irs")) == {"agency": "irs", "status": "ok"}
        with pytest.raises(ConnectionError):
            asyncio.run(targets.fetch("down"))
    finally:
        installed.remove()
    assert targets.fetch is original
    assert set(metrics.points(name)) == {
        attrs(agency="irs", outcome="ok", status="ok"),
        attrs(agency="down", outcome="error"),
    }


def test_async_function_behind_a_sync_decorator_is_timed_until_done(metrics, name) -> None:
    target = "tests.hooks.hook_targets:fetch_decorated"
    hook = Hook(target, (Record(name, "timer", {"outcome": "outcome"}), Record(name + "_up", "updown")))
    installed = install([hook], metrics.meter)
    try:
        assert not inspect.iscoroutinefunction(targets.fetch_decorated)
        pending = targets.fetch_decorated("irs", 0.05)
        assert metrics.points(name + "_up")[attrs()].value == 0  # not in flight before it runs
        assert asyncio.run(pending) == {"agency": "irs", "status": "ok"}
        with pytest.raises(ConnectionError):
            asyncio.run(targets.fetch_decorated("down", 0.05))
    finally:
        installed.remove()
    points = metrics.points(name)
    # Timed until the coroutine was done (it sleeps 50 ms), not just created.
    assert points[attrs(outcome="ok")].min >= 40
    assert points[attrs(outcome="error")].min >= 40
    assert metrics.points(name + "_up")[attrs()].value == 0


def test_cancelled_call_is_recorded_as_failed(metrics, name) -> None:
    hook = Hook(
        "tests.hooks.hook_targets:fetch",
        (
            Record(name, "timer", {"outcome": "outcome"}),
            Record(name + "_failed", "counter", {"error.type": "error.type"}, on="error"),
            Record(name + "_up", "updown"),
        ),
    )

    async def timed_out() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(targets.fetch("irs", 10), 0.05)

    interrupted = Hook(
        "tests.hooks.hook_targets:interrupt",
        (Record(name + "_i_failed", "counter", {"error.type": "error.type"}, on="error"),),
    )
    installed = install([hook, interrupted], metrics.meter)
    try:
        asyncio.run(timed_out())
        with pytest.raises(KeyboardInterrupt):  # re-raised unchanged, like every exception
            targets.interrupt()
    finally:
        installed.remove()
    # A2A's case: a transfer given up by asyncio.wait_for is a failed transfer, and no longer in flight.
    assert metrics.points(name)[attrs(outcome="error")].count == 1
    assert metrics.points(name + "_failed")[attrs(**{"error.type": "CancelledError"})].value == 1
    assert metrics.points(name + "_up")[attrs()].value == 0
    assert metrics.points(name + "_i_failed")[attrs(**{"error.type": "KeyboardInterrupt"})].value == 1


@pytest.mark.parametrize("target", ["rows", "stream"])
@pytest.mark.parametrize(
    "kind, extra",
    [
        ("timer", {}),
        ("updown", {}),
        ("counter", {"on": "error"}),
        ("counter", {"attributes": {"o": "outcome"}}),
        ("histogram", {"value": "len(return)"}),
    ],
    ids=["timer", "updown", "on-error", "outcome", "return"],
)
def test_generator_function_refuses_records_of_its_work(metrics, name, target, kind, extra) -> None:
    with pytest.raises(HookConfigError, match=f"hook_targets:{target} is a generator function.*hook the function "
                                              "that consumes it"):
        install([Hook(f"tests.hooks.hook_targets:{target}", (Record(name, kind, **extra),))], metrics.meter)


def test_generator_function_calls_can_be_counted(metrics, name) -> None:
    hook = Hook("tests.hooks.hook_targets:rows", (Record(name, "counter", {"n": "arg.count"}),))
    with_installed(metrics, [hook], lambda: list(targets.rows(3)) + list(targets.rows(3)))
    assert metrics.points(name)[attrs(n=3)].value == 2


def test_methods_static_class_and_inherited_are_restored_exactly(metrics, name) -> None:
    desk = targets.Desk
    before = {key: desk.__dict__[key] for key in ("handle", "normalise", "open")}
    hooks = [
        Hook(
            "tests.hooks.hook_targets:Desk.handle",
            (
                Record(
                    name,
                    "counter",
                    {
                        "desk": "arg.self.name",
                        "kind": "arg.request.kind",
                        "n": "len(arg.extra)",
                        "mode": "arg.options.mode",
                    },
                ),
            ),
        ),
        Hook("tests.hooks.hook_targets:Desk.normalise", (Record(name + "_n", "counter", {"t": "arg.text"}),)),
        Hook("tests.hooks.hook_targets:Desk.open", (Record(name + "_o", "counter", {"d": "arg.name"}),)),
        Hook("tests.hooks.hook_targets:FrontDesk.handle", (Record(name + "_f", "counter"),)),
    ]

    def calls() -> None:
        assert targets.Desk("a").handle({"kind": "renew"}, "x", "y", mode="fast") == "a:renew"
        assert targets.Desk.handle(targets.Desk("b"), {"kind": "pay"}) == "b:pay"
        assert targets.Desk.normalise(" X ") == "x"
        assert targets.Desk.open("c").name == "c"
        assert targets.FrontDesk("f").handle({"kind": "k"}) == "f:k"

    with_installed(metrics, hooks, calls)
    assert {key: desk.__dict__[key] for key in before} == before
    assert "handle" not in vars(targets.FrontDesk)
    assert set(metrics.points(name)) == {
        attrs(),  # exported at 0 from install
        attrs(desk="a", kind="renew", n=2, mode="fast"),
        attrs(desk="b", kind="pay", n=0),
        attrs(desk="f", kind="k", n=0),
    }
    assert set(metrics.points(name + "_n")) == {attrs(), attrs(t=" X ")}
    assert set(metrics.points(name + "_o")) == {attrs(), attrs(d="c")}
    assert metrics.points(name + "_f")[attrs()].value == 1


def test_updown_counts_calls_in_flight(metrics, name) -> None:
    hook = Hook("tests.hooks.hook_targets:wait_for", (Record(name, "updown", {"lane": "arg.lane"}),))
    installed = install([hook], metrics.meter)
    try:
        for lane in ("ok", "fail"):
            started, release = threading.Event(), threading.Event()
            worker = threading.Thread(target=_swallow, args=(targets.wait_for, started, release, lane))
            worker.start()
            assert started.wait(10)
            assert metrics.points(name)[attrs(lane=lane)].value == 1
            release.set()
            worker.join(10)
            assert metrics.points(name)[attrs(lane=lane)].value == 0
    finally:
        installed.remove()


def _swallow(function, *args) -> None:
    try:
        function(*args)
    except RuntimeError:
        pass


def test_observe_reads_live_objects_only_at_collection(metrics, name) -> None:
    hook = Hook(
        "tests.hooks.hook_targets:Desk.__init__", (Record(name, "observe", {"desk": "obj.name"}, value="len(obj)"),)
    )
    installed = install([hook], metrics.meter)
    try:
        first, second, other = targets.Desk("main"), targets.Desk("main"), targets.Desk("side")
        first.items += ["a", "b"]
        second.items += ["c"]
        other.items += ["d"]
        assert {k: p.value for k, p in metrics.points(name).items()} == {attrs(desk="main"): 3, attrs(desk="side"): 1}
        del other
        gc.collect()
        assert {k: p.value for k, p in metrics.points(name).items()} == {attrs(desk="main"): 3}
    finally:
        installed.remove()
    assert targets.Desk("late").name == "late"
    assert name not in metrics.collect() or not metrics.points(name)


def test_instrumentation_errors_never_reach_the_caller(metrics, name, caplog) -> None:
    hook = Hook(
        "tests.hooks.hook_targets:Desk.handle",
        (
            Record(name, "counter", {"kind": "arg.request.kind", "agency": "arg.request.agency"}),
            Record(name + "_v", "histogram", value="return.nothing"),
        ),
    )
    installed = install([hook], metrics.meter)
    try:
        with caplog.at_level(logging.WARNING, logger="hms_otel.hooks"):
            for _ in range(3):
                assert targets.Desk("a").handle({"kind": "k"}) == "a:k"
    finally:
        installed.remove()
    # The missing key drops that attribute only; the bad value source skips its record.
    assert metrics.points(name)[attrs(kind="k")].value == 3
    assert name + "_v" not in metrics.collect()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert "attribute 'agency' failed (KeyError" in warnings[0]
    assert "record failed (AttributeError" in warnings[1]


def test_a_failing_instrument_never_reaches_the_caller(metrics, name, caplog) -> None:
    installed = install([Hook(PRICE, (Record(name, "counter", value="arg.item"),))], metrics.meter)
    try:
        with caplog.at_level(logging.WARNING, logger="hms_otel.hooks"):
            assert targets.price("not a number") == 2.5
    finally:
        installed.remove()


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (Hook("tests.hooks.nope:f", (Record("x_total", "counter"),)), "cannot import module 'tests.hooks.nope'"),
        (Hook("tests.hooks.hook_targets:missing", (Record("x_total", "counter"),)), "has no attribute 'missing'"),
        (Hook("tests.hooks.hook_targets:Desk", (Record("x_total", "counter"),)), "is a class; hook its constructor"),
        (
            Hook(PRICE, (Record("x_total", "counter", {"a": "arg.itme"}),)),
            "has no parameter 'itme' (parameters: item, quantity, currency)",
        ),
        (Hook(PRICE, (Record("x_total", "counter", {"a": "argument.item"}),)), "unknown source 'argument.item'"),
        (Hook(PRICE, (Record("x_total", "counter", {"a": "arg.item..x"}),)), "bad path"),
        (Hook(PRICE, (Record("ach_latency_ms", "counter"),)), "'ach_latency_ms' is a histogram (HMS ACH contract)"),
        (
            Hook(PRICE, (Record("ach_latency_ms", "timer", {"payment_id": "arg.item"}),)),
            "attribute 'payment_id' is not one of its low-cardinality attributes (agency, outcome)",
        ),
        (Hook(PRICE, (Record("x_hist", "histogram"),)), "needs 'value'"),
        (Hook(PRICE, (Record("x_ms", "timer", value="return"),)), "takes no 'value'"),
        (Hook(PRICE, (Record("x_up", "updown", {"o": "outcome"}),)), "is counted when the call starts"),
        (Hook(PRICE, (Record("x_obs", "observe", value="arg.item"),)), "arg.item is not available on a tracked"),
        (Hook(PRICE, (Record("x_total", "gauge"),)), "unknown kind 'gauge'; expected one of timer, histogram"),
    ],
)
def test_bad_hooks_are_refused_with_a_clear_message(metrics, hook, message) -> None:
    original = targets.price
    with pytest.raises(HookConfigError) as caught:
        install([Hook(PRICE, (Record("x_ok_total", "counter"),)), hook], metrics.meter)
    assert message in str(caught.value)
    assert f"hook {hook.target}" in str(caught.value)
    assert targets.price is original  # all or nothing


def test_messages_carry_the_origin(metrics) -> None:
    hook = Hook(PRICE, (Record("x_total", "counter", {"a": "arg.nope"}, origin="team.yaml:7"),), origin="team.yaml:2")
    with pytest.raises(HookConfigError, match=r"^team.yaml:7: hook tests.hooks.hook_targets:price: metric 'x_total'"):
        install([hook], metrics.meter)


def with_installed(metrics, hooks, calls) -> None:
    installed = install(hooks, metrics.meter)
    try:
        calls()
    finally:
        installed.remove()


def test_timer_can_be_limited_to_failures(metrics, name) -> None:
    hook = Hook(PRICE, (Record(name, "timer", {"outcome": "outcome"}, on="error"),))

    def calls() -> None:
        targets.price("a")
        with pytest.raises(targets.PriceError):
            targets.price("a", -1)

    with_installed(metrics, [hook], calls)
    assert set(metrics.points(name)) == {attrs(outcome="error")}
