"""OPSAgent in code, as the tutorial does. Prints the /metrics URL, then waits for stdin."""

import sys

from hms_ops import OPSAgent, metric


@metric.timer("payment_latency_ms")
def pay() -> None:
    pass


with OPSAgent(port=int(sys.argv[1]), service_name="agent-app") as agent:
    for _ in range(4):
        pay()
    metric.increment("refund_pdf_total", 2)
    print(agent.metrics_url, flush=True)
    sys.stdin.readline()
print("stopped", flush=True)
