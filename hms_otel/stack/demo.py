"""The ``hms-ops up --demo`` service.

A licence-renewal payment step that slows from about 800 ms to about 11 s on
"Election Day", timed with ``@metric.timer`` for real (worker threads sleep, so
it costs no CPU), and logs why as an error: its database connection pool runs
dry. The notifier finds that line in the log store and puts it on the SMS as
the probable source. It has no telemetry set-up of its own: ``hms-ops up``
runs it under ``opentelemetry-instrument``.

The payment clears through ACH (``ach_latency_ms``), citizens queue while it is
slow (``job_queue_depth``) and the licence printer reports its health
(``license_printer_health``), so every panel of the dashboard's overview has data.
"""

from __future__ import annotations

import random
import threading
import time

import click
from opentelemetry import metrics

from hms_otel import metric


@metric.timer("payment_latency_ms", step="charge")
def charge(order: int, latency_ms: float) -> None:
    started = time.perf_counter()
    seconds = latency_ms / 1000 * random.uniform(0.9, 1.1)
    time.sleep(seconds)
    metric.observe("ach_latency_ms", (time.perf_counter() - started) * 1000, agency="dmv", outcome="cleared")
    if latency_ms > 2000:
        # The cause, as a real service would log it: the wait differs every time (the notifier normalises it).
        metric.log(f"Database connection pool exhausted (waited {seconds * 0.9:.1f} s for a connection)",
                   level="error", order=order)
    elif order % 50 == 0:
        metric.log(f"Payment #{order} retried once: card network timeout", level="warning")


def _citizens_waiting(workers: int, normal_ms: float, latency_ms: list[float], stop: threading.Event) -> None:
    """Citizens arrive at the pace the workers manage normally; while payments are slow they queue."""
    waiting = [0.0]

    def observe(options: metrics.CallbackOptions) -> list[metrics.Observation]:
        return [metrics.Observation(round(waiting[0]), {"queue": "licence-renewals"})]

    metrics.get_meter("hms-demo").create_observable_gauge("job_queue_depth", [observe], unit="{job}")
    while not stop.wait(1.0):
        arrivals, served = workers * 1000 / normal_ms, workers * 1000 / latency_ms[0]
        waiting[0] = min(500.0, max(0.0, waiting[0] + arrivals - served))
        metric.gauge("license_printer_health", 1.0, printer="counter-1")


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
    threading.Thread(target=_citizens_waiting, args=(workers, normal_ms, latency_ms, stop), daemon=True).start()
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
