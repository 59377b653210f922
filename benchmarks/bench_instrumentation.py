"""Per-call cost of an instrumented HMS layer call against the bare call, in one process.

    python benchmarks/bench_instrumentation.py [--calls N] [--repeat R]

Each case is timed bare, then with its layer instrumentor installed on a plain
SDK MeterProvider with an InMemoryMetricReader, then on the global SDK as
hms_otel sets it up (OTLP reader to a closed port, 10-minute interval, so no
export runs; the hooks engine then records through the facades' fast path).
The table gives microseconds per call, the median of R rounds in which the
bare and the instrumented runs alternate, timed on the
thread's CPU clock (other processes on a shared machine do not count), and
the ratio against the bare call. Numbers vary between machines; the ratios
are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

os.environ.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
os.environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "600000")
os.environ.setdefault("OTEL_LOGS_EXPORTER", "none")

from hms_a2a import Envelope, Transport
from hms_ach import Batch, Clearinghouse, Payment
from hms_act import Orchestrator
from hms_esq import Case, ComplianceChecker
from hms_gov import Vetter
from hms_instrumentation_a2a import A2aInstrumentor
from hms_instrumentation_ach import AchInstrumentor
from hms_instrumentation_act import ActInstrumentor
from hms_instrumentation_esq import EsqInstrumentor
from hms_instrumentation_gov import GovInstrumentor
from hms_instrumentation_svc import SvcInstrumentor
from hms_svc import Job, JobQueue, Worker
from opentelemetry import metrics
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import sdk


@dataclass
class Case_:
    layer: str
    what: str
    instrumentor: BaseInstrumentor
    make: Callable[[int], Callable[[], object]]  # calls -> a function making that many layer calls


def _ach(calls: int) -> Callable[[], object]:
    house, batch = Clearinghouse(), Batch("dmv", [Payment(f"p{i}", 100) for i in range(3)])

    def run() -> None:
        for _ in range(calls):
            house._seen.clear()
            house.submit_batch(batch)

    return run


def _svc(calls: int) -> Callable[[], object]:
    worker, job = Worker(JobQueue("bench")), Job("noop", int)

    def run() -> None:
        for _ in range(calls):
            worker.run_job(job)

    return run


def _a2a(calls: int) -> Callable[[], object]:
    transport, envelope = Transport(["irs"]), Envelope("e", "dmv", "irs")

    async def many() -> None:
        for _ in range(calls):
            await transport.send(envelope)

    return lambda: asyncio.run(many())


def _act(calls: int) -> Callable[[], object]:
    orchestrator = Orchestrator()

    def run() -> None:
        for _ in range(calls):
            orchestrator.run_activity("renewal", int)

    return run


def _esq(calls: int) -> Callable[[], object]:
    checker, case = ComplianceChecker({"adult": lambda c: True}), Case("c1", {"age": 30})

    def run() -> None:
        for _ in range(calls):
            checker.check(case)

    return run


def _gov(calls: int) -> Callable[[], object]:
    vetter = Vetter({"spending": lambda action: False})

    def run() -> None:
        for _ in range(calls):
            vetter.vet("wire", "spending")

    return run


def _esq_by_hand(meter_provider: Any, calls: int) -> Callable[[], object]:
    """What the ESQ hook does, written out on the SDK's instruments: the floor
    any instrumentation pays in the SDK."""
    histogram = metrics.get_meter("by_hand", meter_provider=meter_provider).create_histogram(
        "esq_latency_by_hand_ms", "ms"
    )
    checker, case = ComplianceChecker({"adult": lambda c: True}), Case("c1", {"age": 30})

    def run() -> None:
        for _ in range(calls):
            start = perf_counter()
            checker.check(case)
            histogram.record((perf_counter() - start) * 1000.0, {"check": "eligibility", "outcome": "ok"})

    return run


CASES = [
    Case_("ACH", "submit_batch: timer + histogram", AchInstrumentor(), _ach),
    Case_("SVC", "run_job ok: no record", SvcInstrumentor(), _svc),
    Case_("A2A", "await send: timer", A2aInstrumentor(), _a2a),
    Case_("ACT", "run_activity: updown +1/-1", ActInstrumentor(), _act),
    Case_("ESQ", "check: timer", EsqInstrumentor(), _esq),
    Case_("Gov", "vet denied: counter", GovInstrumentor(), _gov),
]


def per_call_us(run: Callable[[], object], calls: int) -> float:
    return timeit.timeit(run, number=1, timer=time.thread_time) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()

    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # the closed OTLP port
    if sdk.install("bench") is None:
        raise SystemExit("bench_instrumentation: the hms_otel SDK set-up did not run")
    plain = MeterProvider(metric_readers=[InMemoryMetricReader()])
    setups: dict[str, dict[str, Any]] = {"plain SDK": {"meter_provider": plain}, "HMS set-up": {}}
    rows = []
    for case in CASES:
        run = case.make(options.calls)
        samples: dict[str, list[float]] = {"bare": [], **{name: [] for name in setups}}
        run()  # warm up
        for round_ in range(options.repeat):
            samples["bare"].append(per_call_us(run, options.calls))
            for name, kwargs in setups.items():
                case.instrumentor.instrument(**kwargs)
                try:
                    if round_ == 0:
                        run()  # warm up the instrumented path
                    samples[name].append(per_call_us(run, options.calls))
                finally:
                    case.instrumentor.uninstrument()
        rows.append((case.layer, case.what, *(statistics.median(v) for v in samples.values())))

    by_hand = {name: _esq_by_hand(kwargs.get("meter_provider"), options.calls) for name, kwargs in setups.items()}
    for run in by_hand.values():
        run()
    rows.append(
        (
            "ESQ",
            "check: timer written by hand (SDK)",
            rows[4][2],
            *(
                statistics.median(per_call_us(run, options.calls) for _ in range(options.repeat))
                for run in by_hand.values()
            ),
        )
    )

    print(
        f"{options.calls} calls per run, median of {options.repeat} rounds; plain SDK: MeterProvider + "
        "InMemoryMetricReader; HMS set-up: the global SDK as hms_otel installs it (OTLP reader)"
    )
    print(f"{'':<40}{'':>8}{'plain SDK':>24}{'HMS set-up':>24}")
    print(f"{'layer':<6}{'call':<34}{'bare us':>8}{'us':>8}{'ratio':>8}{'+us':>8}{'us':>8}{'ratio':>8}{'+us':>8}")
    for layer, what, bare, plain_us, hms_us in rows:
        print(
            f"{layer:<6}{what:<34}{bare:>8.2f}"
            f"{plain_us:>8.2f}{plain_us / bare:>8.2f}{plain_us - bare:>8.2f}"
            f"{hms_us:>8.2f}{hms_us / bare:>8.2f}{hms_us - bare:>8.2f}"
        )


if __name__ == "__main__":
    main()
