"""The collector distribution and the real backends, run as local processes.

Public API:

- :class:`LocalStack`: collector + Prometheus + Alertmanager + VictoriaLogs wired together (context manager).
- :class:`Ports`, ``STANDARD_PORTS``: the ports of a stack (``Ports.free()`` for tests).
- :func:`find_binary`, :class:`MissingBinary`: binary lookup whose error says which
  ``hms-ops install ...`` to run.
- :func:`validate_collector_config`, :func:`collector_config_path`: ``hms-otelcol validate`` and the
  shipped configs (``local``, ``gateway``, ``agent``).
- Errors: :class:`ProcessError` (start/readiness), :class:`PortInUse`, :class:`ConfigInvalid`,
  :class:`BuildError`.

Building lives in :mod:`hms_otel.stack.builds`, single services in :mod:`hms_otel.stack.services`,
the process layer in :mod:`hms_otel.stack.processes`, the CLI in :mod:`hms_otel.stack.cli`.
"""

from hms_otel.stack.builds import BuildError, MissingBinary, find_binary
from hms_otel.stack.localstack import STANDARD_PORTS, LocalStack, Ports, StackCannotStart
from hms_otel.stack.processes import PortInUse, ProcessError
from hms_otel.stack.services import ConfigInvalid, collector_config_path, validate_collector_config

__all__ = [
    "STANDARD_PORTS",
    "BuildError",
    "ConfigInvalid",
    "LocalStack",
    "MissingBinary",
    "PortInUse",
    "Ports",
    "ProcessError",
    "StackCannotStart",
    "collector_config_path",
    "find_binary",
    "validate_collector_config",
]
