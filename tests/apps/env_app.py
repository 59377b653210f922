"""Issue 13 class 8 app: one increment and one log, then a normal exit (the distro flushes at exit).

It also says on stderr whether its own flush went through and what hms_otel counted as dropped, so a
record that never arrives can be told apart: lost in this process, or after the collector took it."""

import os
import sys

from hms_otel import logbuffer, metric, sdk

metric.increment("env_check_total")
metric.log(f"env-check {os.environ.get('OTEL_SERVICE_NAME', '')}")  # the test names an app whose record is missing
providers = sdk.installed()
flushed = providers.force_flush(30) if providers is not None else None
print(f"env-app: flushed={flushed} dropped={logbuffer.dropped()} errors={metric.errors()}", file=sys.stderr)
