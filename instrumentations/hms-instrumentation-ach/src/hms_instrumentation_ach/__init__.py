"""OpenTelemetry instrumentation of the HMS ACH layer (``hms_ach``).

Records ``ach_latency_ms``, ``ach_batch_size`` and ``ach_flagged_total`` around
the surface described in this package's README. Set ``HMS_ACH_HOOKS`` to a YAML
file (or inline YAML) to point the same metrics at other callables.

    from hms_instrumentation_ach import AchInstrumentor
    AchInstrumentor().instrument()
"""

from __future__ import annotations

from hms_instrumentation_ach.package import _instruments
from hms_instrumentation_ach.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_ach.clearing:Clearinghouse.submit_batch",
        (
            Record("ach_latency_ms", "timer", {"agency": "arg.batch.agency", "outcome": "outcome"}),
            Record("ach_batch_size", "histogram", {"agency": "arg.batch.agency"}, value="len(arg.batch.entries)"),
        ),
    ),
    Hook(
        "hms_ach.clearing:Clearinghouse.flag",
        (Record("ach_flagged_total", "counter", {"agency": "arg.batch.agency", "reason": "arg.reason"}),),
    ),
)


class AchInstrumentor(HookInstrumentor):
    """Instruments ``hms_ach``; entry point ``hms_ach``."""

    hooks = HOOKS
    config_env = "HMS_ACH_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "AchInstrumentor", "__version__"]
