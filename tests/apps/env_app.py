"""Issue 13 class 8 app: one increment and one log, then a normal exit (the distro flushes at exit)."""

import os

from hms_otel import metric

metric.increment("env_check_total")
metric.log(f"env-check {os.environ.get('OTEL_SERVICE_NAME', '')}")  # the test names an app whose record is missing
