"""Issue 13 class 1 app: a 10 MB metric.log among 100 good records, then a normal exit."""

from hms_otel import metric

for i in range(50):
    metric.log(f"good-{i}")
metric.log("y" * 10_000_000, level="error")
for i in range(50, 100):
    metric.log(f"good-{i}")
