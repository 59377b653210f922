"""Demo payment service: normal for a while, then Election Day.

Payments take about 800 ms, then slow to about 11 s, which trips the
tutorial's alert (`alert_rules/payment_latency_high.yml`). No telemetry set-up
in the code: run it under `opentelemetry-instrument` (hms-ops up --demo does).

    opentelemetry-instrument python examples/demo/payments.py --normal 20 --slow-ms 11000
"""

from __future__ import annotations

import argparse
import logging
import random
import threading
import time

from hms_ops import metric

log = logging.getLogger("payments")


@metric.timer("payment_latency_ms", step="charge")
def charge(order: int, latency_ms: float) -> None:
    time.sleep(latency_ms / 1000 * random.uniform(0.9, 1.1))
    if latency_ms > 2000:
        metric.log(f"Payment #{order} slow: gateway answered after {latency_ms / 1000:.0f} s", level="warning")


def worker(index: int, stop: threading.Event, latency: list[float]) -> None:
    order = index * 100_000
    while not stop.is_set():
        order += 1
        charge(order, latency[0])
        if order % 5 == 0:
            metric.increment("refund_pdf_total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--normal", type=float, default=20, help="seconds of normal latency first")
    parser.add_argument("--normal-ms", type=float, default=800)
    parser.add_argument("--slow-ms", type=float, default=11_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until killed)")
    options = parser.parse_args()

    latency = [options.normal_ms]
    stop = threading.Event()
    threads = [
        threading.Thread(target=worker, args=(i, stop, latency), daemon=True) for i in range(options.workers)
    ]
    for thread in threads:
        thread.start()
    print(f"payments: {options.workers} workers at ~{options.normal_ms:.0f} ms", flush=True)
    started = time.monotonic()
    try:
        time.sleep(options.normal)
        latency[0] = options.slow_ms
        print(f"payments: Election Day, the gateway now takes ~{options.slow_ms / 1000:.0f} s", flush=True)
        log.warning("payment gateway slowed to %.0f ms", options.slow_ms)
        while not options.duration or time.monotonic() - started < options.duration:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop.set()


if __name__ == "__main__":
    main()
