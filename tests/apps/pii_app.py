"""PII app: run under `opentelemetry-instrument`; sends every probe through every SDK path, then exits.

Argv: JSON {"probes": [...], "ordinary": [...], "marker": "..."}. Resource attributes come from
OTEL_RESOURCE_ATTRIBUTES (set by the test). For each probe i: a metric.log body, a Python logging body,
a log attribute (string and bytes), a metric data point attribute. Ordinary values go the same ways.
"""

import json
import logging
import sys

from hms_otel import metric

spec = json.loads(sys.argv[1])
marker = spec["marker"]
log = logging.getLogger("pii")
log.setLevel(logging.INFO)
for kind in ("probes", "ordinary"):
    for i, value in enumerate(spec[kind]):
        metric.log(f"{marker} {kind} {i} body: {value} end", level="warning", detail=value, raw=value.encode())
        log.warning("%s %s %d logging: %s", marker, kind, i, value, extra={"contact": value})
        metric.increment("pii_probe_total", kind=kind, index=str(i), probe=value)
print("done", flush=True)
