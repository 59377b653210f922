"""Per-call cost of @metric.timer against the raw SDK and prometheus_client,
and of a record while the collector is down or blackholed.

    python benchmarks/bench_facades.py [--calls N] [--repeat R]

All run in this process on the same empty function with the same two
attributes; figures are medians of R runs, printed as ratios to the raw SDK
run (a Histogram.record wrapped in a perf_counter pair by hand). The
"collector down" rows use meter providers of their own whose OTLP exporter
sends every 100 ms to a closed port or to a socket that never answers.
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import time
import timeit
from collections.abc import Callable

import prometheus_client
from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader

from hms_otel import metric

ATTRIBUTES = {"channel": "web", "agency": "dmv"}


def empty() -> None:
    pass


def _raw(histogram: metrics.Histogram) -> Callable[[], None]:
    perf_counter = time.perf_counter

    def raw_sdk() -> None:
        start = perf_counter()
        empty()
        histogram.record((perf_counter() - start) * 1000.0, ATTRIBUTES)

    return raw_sdk


def _exporting_to(endpoint: str) -> metrics.Histogram:
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=1)
    provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=100)], shutdown_on_exit=False
    )
    return provider.get_meter("bench").create_histogram("bench_down_ms", unit="ms")


def candidates(blackhole_port: int) -> dict[str, Callable[[], None]]:
    raw_sdk = _raw(metrics.get_meter("bench").create_histogram("bench_raw_ms", unit="ms"))

    timed = metric.timer("bench_timer_ms", **ATTRIBUTES)(empty)

    registry = prometheus_client.CollectorRegistry()
    prom = prometheus_client.Histogram("bench_prom_ms", "bench", ["channel", "agency"], registry=registry)
    prom_timed = prom.labels(**ATTRIBUTES).time()(empty)

    return {
        "raw SDK Histogram.record + perf_counter pair": raw_sdk,
        "@metric.timer": timed,
        "prometheus_client Histogram.time() (pre-bound labels)": prom_timed,
        "raw SDK, collector down (connection refused)": _raw(_exporting_to("127.0.0.1:1")),
        "raw SDK, collector blackholed (never answers)": _raw(_exporting_to(f"127.0.0.1:{blackhole_port}")),
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

    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the down rows fail on purpose
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))  # HMS buckets come as advisory
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    funcs = candidates(blackhole.getsockname()[1])
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
