"""Demo service for ``hms-ops up --demo``: a licence-renewal payment step that slows down on Election Day.

Run under ``opentelemetry-instrument`` (``hms-ops up`` does that). Normal payments take about 800 ms;
after ``--calm`` seconds they take about 11 s, which trips the ``payment_latency_high`` alert
(average over 30 s above 2 s). Latencies are recorded, not slept, so the demo is cheap.
"""

from __future__ import annotations

import random
import time

import click

from hms_otel import metric


@click.command()
@click.option("--calm", default=60.0, show_default=True, help="Seconds of normal latency before the slowdown.")
@click.option("--rate", default=5.0, show_default=True, help="Payments per second.")
def main(calm: float, rate: float) -> None:
    started = time.monotonic()
    slow_announced = False
    while True:
        slow = time.monotonic() - started > calm
        if slow and not slow_announced:
            metric.log("Election Day traffic: payment step latency rising", level="warning")
            slow_announced = True
        latency_ms = random.gauss(11000, 800) if slow else random.gauss(800, 120)
        metric.observe("payment_latency_ms", max(latency_ms, 1.0))
        if random.random() < 0.05:
            metric.increment("refund_pdf_total")
        time.sleep(1 / rate)


if __name__ == "__main__":
    main()
