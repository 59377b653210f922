"""OPSAgent serving /metrics while exporting over OTLP: hostile attribute names and values, and one name from
two scopes. Argv: STOP_FILE. Prints the /metrics URL, then waits until STOP_FILE exists."""

import sys
import time
from pathlib import Path

from opentelemetry import metrics

from hms_ops import OPSAgent, metric

ATTRIBUTES = {
    "1abc": "d", "_x": "u", "__y": "uu", "a.b": "dot", "a_b": "under", "a..b": "dd", "café": "c",
    "flag": True, "num": 1.0, "big": 1e21, "small": 1e-5, "seq": ("a", "b"), "ints": [1, 2.0], "q": 'say "hi"\n',
}

with OPSAgent(port=0, service_name="agent-labels") as agent:
    metric.increment("agent_labels_total", 1, **ATTRIBUTES)
    metric.increment("agent_shared_total", 2)
    metrics.get_meter("hms_instrumentation_ach", "1.2").create_counter("agent_shared_total").add(5)
    print(agent.metrics_url, flush=True)
    while not Path(sys.argv[1]).exists():
        time.sleep(0.2)
