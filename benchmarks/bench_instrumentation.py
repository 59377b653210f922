"""Per-call cost of an instrumented HMS layer call against the bare call, in one process.

    python benchmarks/bench_instrumentation.py [--calls N] [--repeat R]

Each case is timed bare, then with its layer instrumentor installed on an SDK
MeterProvider with an InMemoryMetricReader (no export, so only the recording
path is measured). The table gives microseconds per call, the median of R
rounds in which the bare and the instrumented run alternate, timed on the
thread's CPU clock (other processes on a shared machine do not count), and
the ratio against the bare call. Numbers vary between machines; the ratios
are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

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
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


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


def _esq_by_hand(provider: MeterProvider, calls: int) -> Callable[[], object]:
    """What the ESQ hook does, written out: the floor any instrumentation pays in the SDK."""
    histogram = provider.get_meter("by_hand").create_histogram("esq_latency_by_hand_ms", "ms")
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

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    rows = []
    for case in CASES:
        run = case.make(options.calls)
        bare: list[float] = []
        instrumented: list[float] = []
        run()  # warm up
        for _ in range(options.repeat):
            bare.append(per_call_us(run, options.calls))
            case.instrumentor.instrument(meter_provider=provider)
            try:
                run() if not instrumented else None  # warm up the instrumented path once
                instrumented.append(per_call_us(run, options.calls))
            finally:
                case.instrumentor.uninstrument()
        rows.append((case.layer, case.what, statistics.median(bare), statistics.median(instrumented)))

    by_hand = _esq_by_hand(provider, options.calls)
    by_hand()
    rows.append(
        (
            "ESQ",
            "check: timer written by hand",
            rows[4][2],
            statistics.median(per_call_us(by_hand, options.calls) for _ in range(options.repeat)),
        )
    )

    print(f"{options.calls} calls per run, median of {options.repeat}; SDK MeterProvider + InMemoryMetricReader")
    print(f"{'layer':<6}{'call':<34}{'bare us':>9}{'instr. us':>11}{'ratio':>8}{'+us':>8}")
    for layer, what, bare, instrumented in rows:
        print(
            f"{layer:<6}{what:<34}{bare:>9.2f}{instrumented:>11.2f}{instrumented / bare:>8.2f}"
            f"{instrumented - bare:>8.2f}"
        )


if __name__ == "__main__":
    main()
