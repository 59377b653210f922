"""Facades called from a signal handler while the main thread is inside facades too.

    python signal_app.py CALLS {none|sdk|use}

none: no SDK (the API's proxies); sdk: OPSAgent's pipeline (exporting to a closed port, so the fast path);
use: metric.use() with an in-memory reader (every call through the SDK's instruments and their locks),
whose totals are printed at the end. A deadlock dumps the stacks and exits 2 after 60 s.
"""

import faulthandler
import os
import signal
import sys

from hms_otel import metric

calls_wanted, mode = int(sys.argv[1]), sys.argv[2]
faulthandler.dump_traceback_later(60, exit=True)
reader = None
if mode == "sdk":
    from hms_otel import OPSAgent

    OPSAgent(port=None).start()
elif mode == "use":
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    using = metric.use(meter_provider=MeterProvider(metric_readers=[reader]))
    using.__enter__()  # kept in a variable: a collected generator would leave the block at once

handled = 0


def on_alarm(signum, frame):
    global handled
    handled += 1
    # New attribute sets, a new metric name, an invalid name and a log: each takes a lock the first time.
    metric.increment("sig_handler_total", reason=str(handled))
    metric.increment("bad name!", 1)
    metric.increment(f"sig_new_{handled % 50}_total")
    metric.observe("sig_handler_ms", 1.0, reason=str(handled))
    with metric.timer(f"sig_block_{handled % 20}_ms"):
        pass
    metric.log(f"handler {handled}", level="warning")


signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
i = 0
while handled < calls_wanted:
    metric.increment("sig_main_total", route=str(i))
    metric.increment("other bad!", 1)
    metric.increment(f"main_new_{i % 50}_total")
    metric.observe("sig_main_ms", 2.0, route=str(i))
    metric.log(f"main {i}")
    with metric.timer("sig_main_block_ms", route=str(i % 100)):
        pass
    i += 1
signal.setitimer(signal.ITIMER_REAL, 0)
totals = {}
if reader is not None:
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for found in scope_metrics.metrics:
                if found.name == "sig_handler_total":
                    totals[found.name] = sum(point.value for point in found.data.data_points)
print(f"handled {handled} totals {totals} errors {metric.errors().get(('increment', 'bad name!'), 0)}", flush=True)
os._exit(0)
