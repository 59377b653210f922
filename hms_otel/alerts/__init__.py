"""The HMS alert language: small YAML alert files compiled into Prometheus
rule groups and Alertmanager routing, tested with promtool, hot-reloaded.

>>> from hms_otel.alerts import compile_dir
>>> result = compile_dir("alert_rules")          # raises AlertsInvalid with located problems
>>> result.rules_yaml, result.alertmanager_yaml, result.warnings
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use: the resting `hms-ops up` supervisor follows the alert folder
# (hms_otel.alerts.folder) without loading the compiler.
_HOME = {
    "AlertsInvalid": "hms_otel.alerts.compiler",
    "CompileResult": "hms_otel.alerts.compiler",
    "compile_dir": "hms_otel.alerts.compiler",
    "load_dir": "hms_otel.alerts.compiler",
    "run_tests": "hms_otel.alerts.compiler",
    "validate": "hms_otel.alerts.compiler",
    "Settings": "hms_otel.alerts.settings",
    "rebuild": "hms_otel.alerts.watcher",
    "watch": "hms_otel.alerts.watcher",
    "Location": "hms_otel.errors",
    "Problem": "hms_otel.errors",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'hms_otel.alerts' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
