"""The ``hms-ops up --demo`` service.

A licence-renewal payment step that slows from about 800 ms to about 11 s on
"Election Day", timed with ``@metric.timer`` for real (worker threads sleep, so
it costs no CPU), and logs why as an error: its database connection pool runs
dry. The notifier finds that line in the log store and puts it on the SMS as
the probable source. It has no telemetry set-up of its own: ``hms-ops up``
runs it under ``opentelemetry-instrument``.
"""

from __future__ import annotations

import random
import threading
import time

import click

from hms_otel import metric


@metric.timer("payment_latency_ms", step="charge")
def charge(order: int, latency_ms: float) -> None:
    seconds = latency_ms / 1000 * random.uniform(0.9, 1.1)
    time.sleep(seconds)
    if latency_ms > 2000:
        # The cause, as a real service would log it: the wait differs every time (the notifier normalises it).
        metric.log(f"Database connection pool exhausted (waited {seconds * 0.9:.1f} s for a connection)",
                   level="error", order=order)
    elif order % 50 == 0:
        metric.log(f"Payment #{order} retried once: card network timeout", level="warning")


def _worker(first_order: int, latency_ms: list[float], stop: threading.Event) -> None:
    order = first_order
    while not stop.is_set():
        order += 1
        charge(order, latency_ms[0])
        if order % 5 == 0:
            metric.increment("refund_pdf_total")


@click.command()
@click.option("--calm", default=20.0, show_default=True, help="Seconds of normal latency before the slowdown.")
@click.option("--normal-ms", default=800.0, show_default=True)
@click.option("--slow-ms", default=11_000.0, show_default=True)
@click.option("--workers", default=4, show_default=True, help="Payments in flight at once.")
def main(calm: float, normal_ms: float, slow_ms: float, workers: int) -> None:
    latency_ms = [normal_ms]
    stop = threading.Event()
    for index in range(workers):
        threading.Thread(target=_worker, args=(index * 1_000_000, latency_ms, stop), daemon=True).start()
    print(f"payments: {workers} workers, about {normal_ms:.0f} ms a payment", flush=True)
    time.sleep(calm)
    latency_ms[0] = slow_ms
    metric.log("Election Day traffic: the payment gateway slowed down", level="warning")
    print(f"payments: Election Day, the gateway now takes about {slow_ms / 1000:.0f} s", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
