"""Per-call cost of @metric.timer against the raw SDK and prometheus_client.

    python benchmarks/bench_facades.py [--calls N] [--repeat R]

All three run in this process on the same empty function with the same two
attributes; figures are medians of R runs, printed as ratios to the raw SDK
run (a Histogram.record wrapped in a perf_counter pair by hand).
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from collections.abc import Callable

import prometheus_client
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import metric, sdk

ATTRIBUTES = {"channel": "web", "agency": "dmv"}


def empty() -> None:
    pass


def candidates() -> dict[str, Callable[[], None]]:
    histogram = metrics.get_meter("bench").create_histogram("bench_raw_ms", unit="ms")
    perf_counter = time.perf_counter

    def raw_sdk() -> None:
        start = perf_counter()
        empty()
        histogram.record((perf_counter() - start) * 1000.0, ATTRIBUTES)

    timed = metric.timer("bench_timer_ms", **ATTRIBUTES)(empty)

    registry = prometheus_client.CollectorRegistry()
    prom = prometheus_client.Histogram("bench_prom_ms", "bench", ["channel", "agency"], registry=registry)
    prom_timed = prom.labels(**ATTRIBUTES).time()(empty)

    return {
        "raw SDK Histogram.record + perf_counter pair": raw_sdk,
        "@metric.timer": timed,
        "prometheus_client Histogram.time() (pre-bound labels)": prom_timed,
        "bare call (no telemetry)": empty,
    }


def measure(func: Callable[[], None], calls: int, repeat: int) -> float:
    """Median seconds per call."""
    runs = timeit.repeat(func, number=calls, repeat=repeat)
    return statistics.median(runs) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader], views=sdk.build_views()))
    funcs = candidates()
    for func in funcs.values():  # warm up: create attribute sets and aggregations
        for _ in range(1000):
            func()
    # Interleave the candidates so drift on a busy machine hits them alike.
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(options.repeat):
        for name, func in funcs.items():
            samples[name].append(measure(func, options.calls, 1))
    baseline = statistics.median(samples["raw SDK Histogram.record + perf_counter pair"])
    print(f"{'candidate':<56} {'per call':>10} {'vs raw SDK':>11}")
    for name, runs in samples.items():
        per_call = statistics.median(runs)
        print(f"{name:<56} {per_call * 1e6:>8.2f}us {per_call / baseline:>10.2f}x")
    print(f"(median of {options.repeat} runs x {options.calls} calls each)")


if __name__ == "__main__":
    main()
