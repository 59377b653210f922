"""OpenTelemetry instrumentation of the HMS SVC layer (``hms_svc``).

Records ``job_queue_depth`` (an observable gauge: each ``JobQueue`` is tracked
weakly when it is created and its length is read only when metrics are
collected) and ``job_fail_total``. Set ``HMS_SVC_HOOKS`` to point them at other
callables.
"""

from __future__ import annotations

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from hms_instrumentation_svc.package import _instruments
from hms_instrumentation_svc.version import __version__
from hms_otel.hooks import Hook, HookInstrumentor, Record

HOOKS: tuple[Hook, ...] = (
    Hook(
        "hms_svc.jobs:JobQueue.__init__",
        (Record("job_queue_depth", "observe", {"queue": "obj.name"}, value="len(obj)", track="arg.self"),),
    ),
    Hook(
        "hms_svc.jobs:Worker.run_job",
        (
            Record(
                "job_fail_total",
                "counter",
                {"queue": "arg.self.queue.name", ERROR_TYPE: "error.type"},
                on="error",
            ),
        ),
    ),
)


class SvcInstrumentor(HookInstrumentor):
    """Instruments ``hms_svc``; entry point ``hms_svc``."""

    hooks = HOOKS
    config_env = "HMS_SVC_HOOKS"
    scope = __name__
    scope_version = __version__
    _instruments = _instruments


__all__ = ["HOOKS", "SvcInstrumentor", "__version__"]
