"""The HMS alert language: small YAML alert files compiled into Prometheus
rule groups and Alertmanager routing, tested with promtool, hot-reloaded.

>>> from hms_otel.alerts import compile_dir
>>> result = compile_dir("alert_rules")          # raises AlertsInvalid with located problems
>>> result.rules_yaml, result.alertmanager_yaml, result.warnings
"""

from __future__ import annotations

from hms_otel.alerts.compiler import AlertsInvalid, CompileResult, compile_dir, load_dir, run_tests, validate
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.watcher import rebuild, watch
from hms_otel.errors import Location, Problem

__all__ = [
    "AlertsInvalid",
    "CompileResult",
    "Location",
    "Problem",
    "Settings",
    "compile_dir",
    "load_dir",
    "rebuild",
    "run_tests",
    "validate",
    "watch",
]
