"""The benchmark's payment service: fast payments, then a step to slow ones.

Run under opentelemetry-instrument: ``step_app.py FAST_S SLOW_S CALM_S``. Prints ``STEP <t>`` when the
slow payments start and ``CROSSED <t>`` when the average of the payments finished in the last 30 s
passes 2 s: the moment the tutorial's rule (avg_over_30s > 2000) is true in the data the service made.
"""

import sys
import threading
import time
from collections import deque

from hms_otel import metric

done: deque[tuple[float, float]] = deque()
lock = threading.Lock()
crossed = threading.Event()


@metric.timer("payment_latency_ms")
def pay(seconds: float) -> None:
    time.sleep(seconds)
    if seconds > 1:  # the cause, logged as the tutorial's service does (the notifier's probable source)
        metric.log(f"Database connection pool exhausted (waited {seconds:.1f} s for a connection)", level="error")


def timed(seconds: float) -> None:
    pay(seconds)
    now = time.time()
    with lock:
        done.append((now, seconds))
        while done and done[0][0] < now - 30:
            done.popleft()
        average = sum(duration for _at, duration in done) / len(done)
    if average > 2 and not crossed.is_set():
        crossed.set()
        print(f"CROSSED {now:.3f}", flush=True)


def worker(latency: list[float], pause: float) -> None:
    while True:
        timed(latency[0])
        time.sleep(pause)


def main(fast: float, slow: float, calm: float) -> None:
    latency = [fast]
    threading.Thread(target=worker, args=(latency, 0.45), daemon=True).start()
    time.sleep(calm)
    print(f"STEP {time.time():.3f}", flush=True)
    latency[0] = slow
    for _ in range(7):
        threading.Thread(target=worker, args=(latency, 0.0), daemon=True).start()
    time.sleep(3600)


if __name__ == "__main__":
    main(float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
