"""A payments app whose payment step slows down, as on Election Day.

Run: opentelemetry-instrument python alerts_slow_payments.py SLOW_SECONDS
A few normal payments first (they create the series in Prometheus), then
rounds of 8 concurrent slow payments until the process is stopped. Prints
``SLOW_START <unix time>`` when the first slow payment starts.
"""

import sys
import threading
import time

from hms_otel import metric


@metric.timer("payment_latency_ms")
def pay(seconds: float) -> None:
    time.sleep(seconds)


def main(slow_seconds: float) -> None:
    for _ in range(3):
        pay(0.05)
        time.sleep(0.5)
    time.sleep(2.5)  # let the normal payments be exported before things go wrong
    print(f"SLOW_START {time.time():.3f}", flush=True)
    while True:
        round_ = [threading.Thread(target=pay, args=(slow_seconds,)) for _ in range(8)]
        for thread in round_:
            thread.start()
        for thread in round_:
            thread.join()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
