"""Configuration-driven instrumentation: turn any callable into a timer or counter.

A hook names a callable and the metrics to record around it::

    hooks:
      - target: hms_ach.clearing:Clearinghouse.submit_batch   # module:Qualified.name
        record:
          - metric: ach_latency_ms          # kind, unit, description from the registry
            kind: timer                     # timer | counter | histogram | updown | observe
            attributes: {agency: arg.batch.agency, outcome: outcome}
          - metric: ach_batch_size
            kind: histogram
            value: len(arg.batch.entries)
            attributes: {agency: arg.batch.agency}

Sources (``arg.NAME.path``, ``return.path``, ``error.type``, ``outcome``,
``obj.path``, ``const:TEXT``, ``len(...)``, ``not ...``) are described in
:mod:`hms_otel.hooks.sources`. The same specs can be declared in Python with
:class:`Hook` and :class:`Record`; :class:`HookInstrumentor` turns a
declaration into an OpenTelemetry instrumentor, and :class:`HooksInstrumentor`
(entry point ``hms_hooks``) installs whatever ``HMS_OTEL_HOOKS`` names.
"""

from hms_otel.hooks.engine import Installation, install
from hms_otel.hooks.instrumentor import HookInstrumentor, HooksInstrumentor
from hms_otel.hooks.spec import KINDS, Hook, HookConfigError, Record, from_env, load, load_file

__all__ = [
    "KINDS",
    "Hook",
    "HookConfigError",
    "HookInstrumentor",
    "HooksInstrumentor",
    "Installation",
    "Record",
    "from_env",
    "install",
    "load",
    "load_file",
]
