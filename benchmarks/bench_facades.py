"""Per-call cost of the facades against the raw OpenTelemetry SDK and
prometheus_client, in one process, with the goal next to each ratio.

    python benchmarks/bench_facades.py [--calls N] [--rounds R] [--thread-calls N] [--tables ...]

Set-up: the SDK as hms_otel installs it (OTLP exporter, here to a closed port
with a 10-minute interval so no export runs during the measurement); the raw
SDK instruments come from the same meter provider, so both pay for the same
readers. Candidates are interleaved round by round so drift on a busy machine
hits them alike; figures are medians of R rounds. Tables 1 and 3 time with
the thread's CPU clock (``time.thread_time``), so other processes on a shared
machine do not count; table 2 gives wall-clock throughput (what a convoy
costs: threads waiting) and, next to it, throughput per CPU-second of the process.

Tables:
1. 0, 2 and 5 attributes: ``@metric.timer``, ``with metric.timer(...)``,
   ``metric.increment``, ``metric.gauge`` against the same call on the raw SDK
   (a timer's baseline is ``Histogram.record`` plus a ``perf_counter`` pair)
   and against prometheus_client doing the same (labels bound where the facade
   binds them: at decoration for ``@timer``, per call otherwise).
2. 2 and 8 threads calling one timed function: total throughput against one
   thread, for the facade, the raw SDK and prometheus_client, with a control
   row (one thread against one thread: the machine's own noise).
3. ``OPSAgent(port=...)``: the same calls with the ``/metrics`` reader
   attached and detached, round by round (``MeterProvider.add_metric_reader``).
4. ``with metric.timer(...)`` while 20,000 suspended generators each hold a
   ``with metric.timer`` block open in the same context, against none open
   (goal: 1.0x within noise; entering once copied every open block).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import threading
import time
import timeit
from collections.abc import Callable

os.environ.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
os.environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "600000")
os.environ.setdefault("OTEL_LOGS_EXPORTER", "none")

import prometheus_client
from opentelemetry import metrics

from hms_otel import metric, sdk
from hms_otel.prometheus_text import PrometheusTextReader, serve

ATTRIBUTE_SETS = {
    0: {},
    2: {"channel": "web", "agency": "dmv"},
    5: {"channel": "web", "agency": "dmv", "region": "north", "tier": "gold", "outcome": "ok"},
}
TIMER_GOAL, CALL_GOAL, THREAD_GOAL = 0.5, 0.25, 0.9
_perf_counter = time.perf_counter


def empty() -> None:
    pass


def _candidates(n: int, attributes: dict[str, str]) -> dict[str, dict[str, Callable[[], None]]]:
    """facade -> {"facade"|"raw SDK"|"prometheus_client": function making one call}."""
    meter = metrics.get_meter("bench")
    registry = prometheus_client.CollectorRegistry()
    labels = list(attributes)

    def labelled(metric_: object) -> object:
        return metric_.labels(**attributes) if labels else metric_  # type: ignore[attr-defined]

    raw_histogram = meter.create_histogram(f"raw_{n}_ms", unit="ms")
    raw_counter = meter.create_counter(f"raw_{n}_total")
    raw_gauge = meter.create_gauge(f"raw_{n}_gauge")
    prom_histogram = prometheus_client.Histogram(f"prom_{n}_ms", "b", labels, registry=registry)
    prom_counter = prometheus_client.Counter(f"prom_{n}", "b", labels, registry=registry)
    prom_gauge = prometheus_client.Gauge(f"prom_{n}_gauge", "b", labels, registry=registry)
    sdk_attributes = attributes or None

    def raw_timer() -> None:
        start = _perf_counter()
        empty()
        raw_histogram.record((_perf_counter() - start) * 1000.0, sdk_attributes)

    timer_name, with_name = f"bench_timer_{n}_ms", f"bench_with_{n}_ms"
    counter_name, gauge_name = f"bench_{n}_total", f"bench_{n}_gauge"
    timed = metric.timer(timer_name, **attributes)(empty)

    def with_timer() -> None:
        with metric.timer(with_name, **attributes):
            empty()

    def increment() -> None:
        metric.increment(counter_name, **attributes)

    def gauge() -> None:
        metric.gauge(gauge_name, 3.0, **attributes)

    prom_timed = labelled(prom_histogram).time()(empty)  # type: ignore[attr-defined]

    def prom_with() -> None:
        with labelled(prom_histogram).time():  # type: ignore[attr-defined]
            empty()

    return {
        "@metric.timer": {
            "facade": timed,
            "raw SDK": raw_timer,
            "prometheus_client": prom_timed,
        },
        "with metric.timer()": {"facade": with_timer, "raw SDK": raw_timer, "prometheus_client": prom_with},
        "metric.increment": {
            "facade": increment,
            "raw SDK": lambda: raw_counter.add(1, sdk_attributes),
            "prometheus_client": lambda: labelled(prom_counter).inc(),  # type: ignore[attr-defined]
        },
        "metric.gauge": {
            "facade": gauge,
            "raw SDK": lambda: raw_gauge.set(3.0, sdk_attributes),
            "prometheus_client": lambda: labelled(prom_gauge).set(3.0),  # type: ignore[attr-defined]
        },
    }


def _per_call(func: Callable[[], None], calls: int) -> float:
    return timeit.timeit(func, number=calls, timer=time.thread_time) / calls


def _interleaved(funcs: dict[str, Callable[[], None]], calls: int, rounds: int) -> dict[str, float]:
    for func in funcs.values():  # warm up: attribute sets, aggregations, caches
        for _ in range(500):
            func()
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(rounds):
        for name, func in funcs.items():
            samples[name].append(_per_call(func, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def table_attributes(calls: int, rounds: int) -> None:
    print(f"\n1. Per call, medians of {rounds} rounds x {calls} calls (goal: facade/raw SDK)")
    print(
        f"{'attrs':>5} {'facade':<20} {'facade':>9} {'raw SDK':>9} {'prom':>9} {'vs SDK':>7} {'goal':>7} "
        f"{'ok':>3} {'vs prom':>8}"
    )
    for n, attributes in ATTRIBUTE_SETS.items():
        candidates = _candidates(n, attributes)
        flat = {f"{facade}|{who}": func for facade, row in candidates.items() for who, func in row.items()}
        medians = _interleaved(flat, calls, rounds)
        for facade in candidates:
            mine, raw, prom = (medians[f"{facade}|{who}"] for who in ("facade", "raw SDK", "prometheus_client"))
            goal = TIMER_GOAL if "timer" in facade else CALL_GOAL
            ratio = mine / raw
            print(
                f"{n:>5} {facade:<20} {mine * 1e6:>7.2f}us {raw * 1e6:>7.2f}us {prom * 1e6:>7.2f}us "
                f"{ratio:>6.2f}x {'<=' + str(goal):>7} {'yes' if ratio <= goal else 'NO':>3} {mine / prom:>7.2f}x"
            )


def _throughput(func: Callable[[], None], threads: int, calls_per_thread: int) -> tuple[float, float]:
    """Total calls per wall-clock second and per process CPU-second with
    ``threads`` threads each making ``calls_per_thread`` calls."""
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(calls_per_thread):
            func()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start, cpu_start = _perf_counter(), time.process_time()
    for worker in workers:
        worker.join()
    calls = threads * calls_per_thread
    return calls / (_perf_counter() - start), calls / max(time.process_time() - cpu_start, 1e-9)


def table_threads(total_calls: int, rounds: int) -> None:
    attributes = ATTRIBUTE_SETS[2]
    candidates = _candidates(102, attributes)["@metric.timer"]
    print(
        f"\n2. One timed function called from N threads: total throughput / one thread's "
        f"(2 attributes, {total_calls} calls per measurement, {rounds} rounds; goal >= {THREAD_GOAL}x)\n"
        "   Each round runs 1 thread, 2 threads, 8 threads, 1 thread again; a ratio is against the mean of\n"
        "   the two 1-thread runs around it. 'control' is the second 1-thread run against the first: the\n"
        "   machine's own round-to-round noise, which bounds what 'min' can show for any code."
    )
    print(
        f"{'who':<18} {'threads':>7} {'wall median':>11} {'min':>6} {'max':>6} {'ok':>3} "
        f"{'cpu median':>11} {'min':>6} {'max':>6} {'ok':>3}"
    )
    for func in candidates.values():
        for _ in range(500):
            func()
    ratios: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for who, func in candidates.items():
            wall_1, cpu_1 = _throughput(func, 1, total_calls)
            threaded = {threads: _throughput(func, threads, total_calls // threads) for threads in (2, 8)}
            wall_1b, cpu_1b = _throughput(func, 1, total_calls)
            wall_base, cpu_base = (wall_1 + wall_1b) / 2, (cpu_1 + cpu_1b) / 2
            for threads, (wall, cpu) in threaded.items():
                ratios.setdefault((who, str(threads)), []).append((wall / wall_base, cpu / cpu_base))
            ratios.setdefault((who, "control"), []).append((wall_1b / wall_1, cpu_1b / cpu_1))
    for (who, threads), pairs in sorted(ratios.items(), key=lambda item: list(candidates).index(item[0][0])):
        line = f"{who:<18} {threads:>7}"
        for values in ([wall for wall, _ in pairs], [cpu for _, cpu in pairs]):
            ok = "-" if threads == "control" else "yes" if min(values) >= THREAD_GOAL else "NO"
            line += f" {statistics.median(values):>10.2f}x {min(values):>5.2f}x {max(values):>5.2f}x {ok:>3}"
        print(line)


def table_agent_port(calls: int, rounds: int) -> None:
    provider = sdk.installed().meter_provider  # type: ignore[union-attr]
    candidates = _candidates(202, ATTRIBUTE_SETS[2])
    reader = PrometheusTextReader()
    server = serve(reader, 0)
    funcs = {f"{facade}|{who}": candidates[facade][who] for facade in candidates for who in ("facade", "raw SDK")}
    samples: dict[tuple[str, bool], list[float]] = {}
    try:
        for _ in range(rounds):
            for attached in (False, True):
                if attached:
                    provider.add_metric_reader(reader)
                for name, func in funcs.items():
                    samples.setdefault((name, attached), []).append(_per_call(func, calls))
                if attached:
                    provider.remove_metric_reader(reader)
    finally:
        server.shutdown()
        server.server_close()
    print(
        f"\n3. OPSAgent(port=...): per call with the /metrics reader / without it "
        f"(2 attributes, {rounds} rounds; goal for the facades: 1.0x within noise)"
    )
    print(f"{'call':<36} {'without':>9} {'with':>9} {'ratio':>7}")
    for name in funcs:
        without, with_ = (statistics.median(samples[(name, attached)]) for attached in (False, True))
        print(f"{name.replace('|', ' / '):<36} {without * 1e6:>7.2f}us {with_ * 1e6:>7.2f}us {with_ / without:>6.2f}x")


def table_open_blocks(calls: int, rounds: int, held: int = 20_000) -> None:
    def rows() -> object:
        with metric.timer("bench_rows_ms"):
            yield 1

    def with_timer() -> None:
        with metric.timer("bench_open_ms", channel="web"):
            empty()

    none_open = statistics.median(_per_call(with_timer, calls) for _ in range(rounds))
    streams = []
    for _ in range(held):
        stream = rows()
        next(stream)  # type: ignore[call-overload]
        streams.append(stream)
    with_open = statistics.median(_per_call(with_timer, calls) for _ in range(rounds))
    print(f"\n4. with metric.timer(): {held} blocks held open by suspended generators / none ({rounds} rounds)")
    print(f"{'none open':>10} {'held open':>10} {'ratio':>7}")
    print(f"{none_open * 1e6:>8.2f}us {with_open * 1e6:>8.2f}us {with_open / none_open:>6.2f}x")
    del streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5_000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--thread-calls", type=int, default=100_000, help="calls per thread-table measurement")
    parser.add_argument(
        "--tables",
        nargs="+",
        choices=("attributes", "threads", "agent", "open-blocks"),
        default=("attributes", "threads", "agent", "open-blocks"),
    )
    options = parser.parse_args()
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the closed OTLP port
    if sdk.install("bench") is None:
        raise SystemExit("bench_facades: the hms_otel SDK set-up did not run")
    try:
        from hms_otel import _fastpath
    except ImportError:  # an hms_otel from before the fast path: the "before" figures
        print("hms_otel without the facade fast path")
    else:
        if not _fastpath.enabled():
            raise SystemExit("bench_facades: the hms_otel SDK set-up did not enable the fast path")
    if "attributes" in options.tables:
        table_attributes(options.calls, options.rounds)
    if "threads" in options.tables:
        table_threads(options.thread_calls, options.rounds)
    if "agent" in options.tables:
        table_agent_port(options.calls, options.rounds)
    if "open-blocks" in options.tables:
        table_open_blocks(options.calls, options.rounds)


if __name__ == "__main__":
    main()
