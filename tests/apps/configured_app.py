"""Reports, as one JSON line, what the SDK set-up gave this process.

`python configured_app.py [agent]`: with `agent`, set up through OPSAgent
(no opentelemetry-instrument); otherwise expects opentelemetry-instrument.
Creates one span named `checkout` so a console span exporter prints it.
"""

import json
import sys

from opentelemetry import _logs, metrics, trace

from hms_otel import OPSAgent, sdk

agent = OPSAgent(port=None).start() if sys.argv[1:] == ["agent"] else None
tracer_provider = trace.get_tracer_provider()
with trace.get_tracer("configured-app").start_as_current_span("checkout") as span:
    sampled = span.get_span_context().trace_flags.sampled
resource = getattr(tracer_provider, "resource", None)
print(
    json.dumps(
        {
            "tracer_provider": type(tracer_provider).__name__,
            "meter_provider": type(metrics.get_meter_provider()).__name__,
            "logger_provider": type(_logs.get_logger_provider()).__name__,
            "sampler": type(getattr(tracer_provider, "sampler", None)).__name__,
            "id_generator": type(getattr(tracer_provider, "id_generator", None)).__name__,
            "sampled": sampled,
            "resource": dict(resource.attributes) if resource is not None else {},
            "hms_adopted": sdk.installed() is not None,
        }
    ),
    flush=True,
)
if agent is not None:
    agent.stop()
