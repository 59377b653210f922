"""Where the compiled rules and Alertmanager config go, and writing them.

An output path comes from the command line, so it can be anything: one of the
alert files being compiled, a file in the alert folder (read back as an alert
file by the next compile), the other output, a link, a device, a pipe.
:func:`check_outputs` refuses, before anything is written, every output that
would destroy what the user has or could never be read back; :func:`write_atomically`
writes through links and never reads more of a target than the new text's size.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hms_otel.alerts.folder import is_alert_file, iter_alert_files
from hms_otel.errors import HmsError
from hms_otel.yamlfile import walk_folders

__all__ = ["OutputRefused", "check_outputs", "write_atomically"]


class OutputRefused(HmsError):
    """An output path that would replace an alert file, the other output or something that is no file;
    the message names the path and what to do. Nothing is written."""


def check_outputs(directory: str | Path, outputs: Sequence[str | Path]) -> None:
    """Raise :class:`OutputRefused` naming every output of ``directory``'s compile that must not be
    written: an alert file, a path the next compile would read as one, a path given twice (links and
    hard links included), a device, pipe, socket or folder."""
    inputs = _Inputs(directory)
    reasons: list[str] = []
    taken: dict[tuple[str, ...], Path] = {}
    for output in outputs:
        path = Path(output)
        reason = _not_a_file(path) or inputs.clash(path)
        identity = _identities(path)
        other = next((taken[key] for key in identity if key in taken), None)
        if reason is None and other is not None:
            reason = f"it is the same file as {_name(other)}; the rules and the Alertmanager config need a file each"
        taken.update(dict.fromkeys(identity, path))
        if reason is not None:
            reasons.append(f"cannot write {_name(path)}: {reason}")
    if reasons:
        raise OutputRefused("\n".join(reasons))


class _Inputs:
    """What a compile of ``directory`` reads: its alert files (by real path and by inode) and folders."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.real = os.path.realpath(directory)
        files = iter_alert_files(directory)[0] if self.directory.is_dir() else []
        self.files = {key: path for path in files for key in _identities(path)}
        self.folders = _folders(self.directory)

    def clash(self, output: Path) -> str | None:
        found = next((self.files[key] for key in _identities(output) if key in self.files), None)
        if found is not None:
            return (f"it is the alert file {_name(found)}, which writing would replace; write the outputs "
                    f"outside the alert folder {_name(self.directory)}")
        real = os.path.realpath(output)
        if self._would_read(real):
            linked = not Path(real).is_relative_to(self.real)
            where = "a folder linked from the alert folder" if linked else "the alert folder"
            return (f"it is in {where} {_name(self.directory)}, so the next compile would read it as an alert file; "
                    "write the outputs outside that folder")
        return None

    def _would_read(self, real: str) -> bool:
        """Whether a file at ``real`` would be listed as an alert file (hidden entries are not)."""
        if not is_alert_file(os.path.basename(real)):
            return False
        if os.path.dirname(real) in self.folders:
            return not os.path.basename(real).startswith(".")
        inside = Path(real)
        if not inside.is_relative_to(self.real):
            return False
        return not any(part.startswith(".") for part in inside.relative_to(self.real).parts)


def _folders(directory: Path) -> set[str]:
    """The real paths of the folders a compile of ``directory`` reads (a linked folder may be empty yet)."""
    return {os.path.realpath(folder) for folder, _entries in walk_folders(directory)}


def _identities(path: Path) -> list[tuple[str, ...]]:
    """Keys that are equal for two paths of one file: its real path, and its inode when it exists."""
    keys: list[tuple[str, ...]] = [("path", os.path.realpath(path))]
    try:
        info = path.stat()
    except OSError:
        return keys
    return [*keys, ("inode", str(info.st_dev), str(info.st_ino))]


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` (after links) cannot be replaced by a rules file, or ``None`` (a file or nothing yet)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # nothing there yet, or unreachable: writing says why
    kind = _kind(mode)
    if kind is None:
        return None
    link = "a link to " if path.is_symlink() else ""
    hint = "; to only check the alert files, run `hms-ops alerts check`" if stat.S_ISCHR(mode) else ""
    # Replacing it would swap a device (as root, /dev/null itself) for a regular file; reading it first
    # (/dev/zero, /dev/full) never ends, and a pipe blocks until someone reads.
    return f"it is {link}{kind}, not a regular file{hint}"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; ``None`` for a regular file."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in kinds if test(mode)), "a special file")


def write_atomically(path: str | Path, text: str) -> bool:
    """Replace ``path`` with ``text`` in one step; ``False`` when it already had it.

    A link is written through: its target is replaced and the link stays (a rules file linked from
    /etc, a Kubernetes ConfigMap mount). Anything but a regular file raises :class:`OutputRefused`.
    """
    target = Path(os.path.realpath(path))
    data = text.encode("utf-8")
    reason = _not_a_file(target)
    if reason is not None:
        raise OutputRefused(f"cannot write {_name(Path(path))}: {reason}")
    if _holds(target, data):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        # mkstemp makes the file private (0600): Prometheus or Alertmanager running as another user
        # (a packaged server reading what root compiled) could no longer read the rules.
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _holds(target: Path, data: bytes) -> bool:
    """Whether ``target`` is a regular file holding exactly ``data``: at most one byte more than
    ``data`` is read, and a pipe swapped in meanwhile is not waited for."""
    try:
        handle = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        return stream.read(len(data) + 1) == data


def _mode_for(target: Path) -> int:
    """The file's own permissions when it exists, else those a new file gets (0666 less the umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _name(path: Path) -> str:
    from hms_otel.terminal import safe_name

    return safe_name(str(path))
