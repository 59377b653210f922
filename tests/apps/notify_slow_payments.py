"""A payments app that slows down because its database pool runs dry, and says so in its logs.

Run: opentelemetry-instrument python notify_slow_payments.py SLOW_SECONDS
A few normal payments, then rounds of 8 concurrent slow payments; every slow
payment logs the cause as an error (with a different wait each time, so the
notifier must normalise numbers), and a little unrelated noise as warnings.
Prints ``SLOW_START <unix time>`` when the first slow payment starts.
"""

import sys
import threading
import time

from hms_otel import metric


@metric.timer("payment_latency_ms")
def pay(order: int, seconds: float) -> None:
    time.sleep(seconds)
    if seconds > 1:
        metric.log(f"Database connection pool exhausted (waited {seconds * 0.97 + order % 7 / 10:.1f} s "
                   "for a connection)", level="error")


def main(slow_seconds: float) -> None:
    for order in range(3):
        pay(order, 0.05)
        time.sleep(0.5)
    time.sleep(2.5)
    print(f"SLOW_START {time.time():.3f}", flush=True)
    order = 100
    while True:
        round_ = []
        for _ in range(8):
            order += 1
            round_.append(threading.Thread(target=pay, args=(order, slow_seconds)))
        metric.log(f"Cache refresh of tariff table {order} took longer than usual", level="warning")
        for thread in round_:
            thread.start()
        for thread in round_:
            thread.join()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
