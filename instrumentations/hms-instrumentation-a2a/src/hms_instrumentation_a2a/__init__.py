"""OpenTelemetry instrumentation of the HMS A2A layer (``hms_a2a``).

Records ``a2a_transfer_ms`` and ``a2a_failed_total`` around the coroutine
``Transport.send``. Set ``HMS_A2A_HOOKS`` to point them at other callables.
"""

from __future__ import annotations

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from hms_instrumentation_a2a.package import _instruments
from hms_instrumentation_a2a.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

_AGENCY = "arg.envelope.recipient_agency"

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_a2a.transport:Transport.send",
        (
            Record("a2a_transfer_ms", "timer", {"agency": _AGENCY, "outcome": "outcome"}),
            Record("a2a_failed_total", "counter", {"agency": _AGENCY, ERROR_TYPE: "error.type"}, on="error"),
        ),
    ),
)


class A2aInstrumentor(HookInstrumentor):
    """Instruments ``hms_a2a``; entry point ``hms_a2a``."""

    hooks = HOOKS
    config_env = "HMS_A2A_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "A2aInstrumentor", "__version__"]
