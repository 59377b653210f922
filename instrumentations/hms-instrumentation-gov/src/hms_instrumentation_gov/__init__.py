"""OpenTelemetry instrumentation of the HMS governance layer (``hms_gov``).

Counts ``vet_denied_total``: every ``Vetter.vet`` call whose returned decision
is not allowed. Set ``HMS_GOV_HOOKS`` to count denials of another vetting
callable (for example an agent's own vet step).
"""

from __future__ import annotations

from hms_instrumentation_gov.package import _instruments
from hms_instrumentation_gov.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_gov.vetting:Vetter.vet",
        (
            Record(
                "vet_denied_total",
                "counter",
                {"policy": "arg.policy"},
                on="return",
                when="not return.allowed",
            ),
        ),
    ),
)


class GovInstrumentor(HookInstrumentor):
    """Instruments ``hms_gov``; entry point ``hms_gov``."""

    hooks = HOOKS
    config_env = "HMS_GOV_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "GovInstrumentor", "__version__"]
