"""The ``hms-ops up --demo`` service and the SMS phone it rings.

The service is a licence-renewal payment step that slows from about 800 ms to
about 11 s on "Election Day", timed with ``@metric.timer`` for real (worker
threads sleep, so it costs no CPU). It has no telemetry set-up of its own:
``hms-ops up`` runs it under ``opentelemetry-instrument``.

The payment clears through ACH (``ach_latency_ms``), citizens queue while it is
slow (``job_queue_depth``) and the licence printer reports its health
(``license_printer_health``), so every panel of the dashboard's overview has data.

The SMS provider cannot be reached from a laptop, so the demo stands in a
local webhook that prints each text it would have sent.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import click
from opentelemetry import metrics

from hms_otel import metric


@metric.timer("payment_latency_ms", step="charge")
def charge(order: int, latency_ms: float) -> None:
    started = time.perf_counter()
    time.sleep(latency_ms / 1000 * random.uniform(0.9, 1.1))
    metric.observe("ach_latency_ms", (time.perf_counter() - started) * 1000, agency="dmv", outcome="cleared")
    if latency_ms > 2000:
        metric.log(f"Payment #{order} slow: the gateway answered after {latency_ms / 1000:.0f} s", level="warning")


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


def serve_sms_phone(say: Callable[[str], None], host: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, str]:
    """A local stand-in for the SMS gateway: ``say`` each text Alertmanager sends.

    Returns the server (call ``shutdown()``) and the URL for ``HMS_SMS_GATEWAY_URL``.
    """

    class Phone(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            to = parse_qs(urlparse(self.path).query).get("to", ["?"])[0]
            try:
                alerts = json.loads(body).get("alerts", [])
            except (ValueError, AttributeError):
                alerts = []
            for alert in alerts:
                if alert.get("status") == "firing":
                    text = alert.get("annotations", {}).get("message") or alert.get("labels", {}).get("alertname")
                    say(f"SMS to {to}: {text}")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # keep the console for the texts
            pass

    server = ThreadingHTTPServer((host, 0), Phone)
    threading.Thread(target=server.serve_forever, name="hms-demo-sms", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/sms"


if __name__ == "__main__":
    main()
