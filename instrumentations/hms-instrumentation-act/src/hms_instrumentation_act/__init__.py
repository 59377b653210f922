"""OpenTelemetry instrumentation of the HMS ACT layer (``hms_act``).

Records ``activities_pending`` (+1 when an activity starts, -1 when it ends)
and ``activities_error_total``. Set ``HMS_ACT_HOOKS`` to point them at other
callables.
"""

from __future__ import annotations

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from hms_instrumentation_act.package import _instruments
from hms_instrumentation_act.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_act.orchestrator:Orchestrator.run_activity",
        (
            Record("activities_pending", "updown", {"workflow": "arg.workflow"}),
            Record(
                "activities_error_total",
                "counter",
                {"workflow": "arg.workflow", ERROR_TYPE: "error.type"},
                on="error",
            ),
        ),
    ),
)


class ActInstrumentor(HookInstrumentor):
    """Instruments ``hms_act``; entry point ``hms_act``."""

    hooks = HOOKS
    config_env = "HMS_ACT_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "ActInstrumentor", "__version__"]
