"""Issue 13 class 8 app: one increment and one log, then a normal exit (the distro flushes at exit)."""

from hms_otel import metric

metric.increment("env_check_total")
metric.log("env-check")
