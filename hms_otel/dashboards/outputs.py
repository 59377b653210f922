"""Where ``hms-ops dashboards export --grafana DIR`` may write: checked before anything is written.

DIR comes from the command line: it may be the alert folder itself (the
dashboards would land among the alert files), a pipe, or hold links and pipes
where the page files go. :func:`write_export` checks, then writes all pages or
none (:func:`hms_otel.outputs.write_all`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from hms_otel.alerts.folder import iter_alert_files
from hms_otel.dashboards.spec import iter_dashboard_files
from hms_otel.outputs import Inputs, OutputRefused, not_a_file, not_a_folder, write_all

__all__ = ["check_export_folder", "write_export"]


def check_export_folder(alert_dir: Path | None, folder: Path, names: Iterable[str] = ()) -> None:
    """Raise :class:`OutputRefused` when ``folder`` is no folder, is (in) the alert folder ``alert_dir``
    or a folder it links to, or when one of the files ``names`` there is no regular file or (through
    a link) an alert or dashboard file."""
    from hms_otel.terminal import safe_name

    inputs = _inputs(alert_dir)
    reason = not_a_folder(folder) or (inputs.folder_clash(folder) if inputs is not None else None)
    if reason is not None:
        raise OutputRefused(f"cannot write into {safe_name(str(folder))}: {reason}")
    reasons = []
    for name in names:
        path = folder / name
        reason = not_a_file(path) or (inputs.clash(path) if inputs is not None else None)
        if reason is not None:
            reasons.append(f"cannot write {safe_name(str(path))}: {reason}")
    if reasons:
        raise OutputRefused("\n".join(reasons))


def write_export(alert_dir: Path | None, folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` (name -> text) into ``folder`` after :func:`check_export_folder`, all or none;
    every path, written or already up to date."""
    check_export_folder(alert_dir, folder, files)
    contents = {folder / name: text for name, text in files.items()}
    write_all(contents)
    return list(contents)


def _inputs(alert_dir: Path | None) -> Inputs | None:
    """The alert and dashboard files the export reads; ``None`` without an alert folder (the defaults)."""
    if alert_dir is None or not alert_dir.is_dir():
        return None
    files = dict.fromkeys(iter_alert_files(alert_dir)[0], "alert file")
    files.update(dict.fromkeys(iter_dashboard_files(alert_dir)[0], "dashboard file"))
    return Inputs(alert_dir, files, folder="alert folder")
