"""Where the compiled rules and Alertmanager config go.

An output path comes from the command line, so it can be anything: one of the
alert files being compiled, a file in the alert folder (read back as an alert
file by the next compile), the other output, a link, a device, a pipe.
:func:`check_outputs` refuses, before anything is written, every output that
would destroy what the user has or could never be read back; writing is
:func:`hms_otel.outputs.write_atomically`, shared with every command that writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hms_otel.alerts.folder import is_alert_file, iter_alert_files
from hms_otel.outputs import Inputs, not_a_file, refuse_outputs

__all__ = ["check_outputs"]

_CHECK_HINT = "; to only check the alert files, run `hms-ops alerts check`"


def check_outputs(directory: str | Path, outputs: Sequence[str | Path]) -> None:
    """Raise :class:`OutputRefused` naming every output of ``directory``'s compile that must not be
    written: an alert file, a path the next compile would read as one, a path given twice (links and
    hard links included), a device, pipe, socket or folder."""
    inputs = _inputs(directory)
    refuse_outputs((Path(output) for output in outputs),
                   lambda path: not_a_file(path, _CHECK_HINT) or inputs.clash(path),
                   "; the rules and the Alertmanager config need a file each")


def _inputs(directory: str | Path) -> Inputs:
    files = iter_alert_files(directory)[0] if Path(directory).is_dir() else []
    return Inputs(directory, dict.fromkeys(files, "alert file"), folder="alert folder", reads=_read_as_alert_file)


def _read_as_alert_file(name: str) -> str | None:
    return "the next compile would read it as an alert file" if is_alert_file(name) else None


def _name(path: Path) -> str:
    from hms_otel.terminal import safe_name

    return safe_name(str(path))
