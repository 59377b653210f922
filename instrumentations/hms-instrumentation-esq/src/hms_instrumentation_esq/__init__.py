"""OpenTelemetry instrumentation of the HMS ESQ layer (``hms_esq``).

Records ``esq_latency_ms`` per check and ``esq_conflicts_total`` per rule. Set
``HMS_ESQ_HOOKS`` to point them at other callables.
"""

from __future__ import annotations

from hms_instrumentation_esq.package import _instruments
from hms_instrumentation_esq.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_esq.checks:ComplianceChecker.check",
        (Record("esq_latency_ms", "timer", {"check": "arg.check", "outcome": "outcome"}),),
    ),
    Hook(
        "hms_esq.checks:ComplianceChecker.record_conflict",
        (Record("esq_conflicts_total", "counter", {"rule": "arg.rule"}, on="return"),),
    ),
)


class EsqInstrumentor(HookInstrumentor):
    """Instruments ``hms_esq``; entry point ``hms_esq``."""

    hooks = HOOKS
    config_env = "HMS_ESQ_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "EsqInstrumentor", "__version__"]
