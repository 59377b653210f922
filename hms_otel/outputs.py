"""Writing the files a command was told to write: checked first, replaced whole, all or nothing.

An output path comes from the command line, so it can be anything: one of the
files the command reads, a file in the folder it reads, a link, a device, a
pipe, a folder. :class:`Inputs` says which outputs would replace or mix with
what a command reads; :func:`not_a_file` which are no regular file;
:func:`write_all` (and :func:`write_atomically`, for one file) refuses those,
writes through links, never reads more of a target than the new text's size
(nor waits on one), and renames the new files into place only once every one
of them is written beside its target: a failure (a full disk, a folder without
write permission) leaves every old file as it was and names the file it hit.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from hms_otel.errors import HmsError
from hms_otel.yamlfile import walk_folders

__all__ = ["Inputs", "OutputRefused", "identities", "not_a_file", "not_a_folder", "write_all", "write_atomically"]


class OutputRefused(HmsError):
    """An output path that would replace an input, another output or something that is no file;
    the message names the path and what to do. Nothing is written."""


class Inputs:
    """What a command reads under ``directory``: ``files`` (path -> what it is, ``"alert file"``; matched by
    real path and by inode) and the folders it walks; ``reads(name)`` says why a new file of that name
    there would be read too (``"the next compile would read it as an alert file"``), else ``None``."""

    def __init__(self, directory: str | Path, files: Mapping[Path, str], *, folder: str,
                 reads: Callable[[str], str | None] = lambda _name: None) -> None:
        self.directory = Path(directory)
        self.real = os.path.realpath(directory)
        self.what = folder
        self.reads = reads
        self.files = {key: (path, noun) for path, noun in files.items() for key in identities(path)}
        self.folders = {os.path.realpath(found) for found, _entries in walk_folders(self.directory)}

    def clash(self, output: Path) -> str | None:
        """Why writing the file ``output`` would harm the inputs, or ``None``."""
        found = next((self.files[key] for key in identities(output) if key in self.files), None)
        if found is not None:
            path, noun = found
            return (f"it is the {noun} {_name(path)}, which writing would replace; write the outputs "
                    f"outside the {self.what} {_name(self.directory)}")
        real = os.path.realpath(output)
        reason = self._would_read(real)
        if reason is not None:
            return (f"it is in {self._where(real)} {_name(self.directory)}, so {reason}; "
                    "write the outputs outside that folder")
        return None

    def folder_clash(self, folder: Path) -> str | None:
        """Why writing into ``folder`` would mix the outputs with the inputs, or ``None``."""
        real = os.path.realpath(folder)
        if real == self.real:
            return f"it is the {self.what} {_name(self.directory)}; write the outputs outside that folder"
        if real in self.folders or Path(real).is_relative_to(self.real):
            return f"it is in {self._where(real)} {_name(self.directory)}; write the outputs outside that folder"
        return None

    def _where(self, real: str) -> str:
        linked = not Path(real).is_relative_to(self.real)
        return f"a folder linked from the {self.what}" if linked else f"the {self.what}"

    def _would_read(self, real: str) -> str | None:
        """Why a file at ``real`` would be read as an input (hidden entries are not), or ``None``."""
        name = os.path.basename(real)
        reason = self.reads(name)
        if reason is None or name.startswith("."):
            return None
        if os.path.dirname(real) in self.folders:
            return reason
        inside = Path(real)
        if not inside.is_relative_to(self.real):
            return None
        return None if any(part.startswith(".") for part in inside.relative_to(self.real).parts) else reason


def identities(path: Path) -> list[tuple[str, ...]]:
    """Keys that are equal for two paths of one file: its real path, and its inode when it exists."""
    keys: list[tuple[str, ...]] = [("path", os.path.realpath(path))]
    try:
        info = path.stat()
    except OSError:
        return keys
    return [*keys, ("inode", str(info.st_dev), str(info.st_ino))]


def not_a_file(path: Path, hint: str = "") -> str | None:
    """Why ``path`` (after links) cannot be replaced by a file, or ``None`` (a file or nothing yet);
    ``hint`` is added for a character device (``/dev/null``: "to only check ..., run ...")."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # nothing there yet, or unreachable: writing says why
    kind = _kind(mode)
    if kind is None:
        return None
    link = "a link to " if path.is_symlink() else ""
    # Replacing it would swap a device (as root, /dev/null itself) for a regular file; reading it first
    # (/dev/zero, /dev/full) never ends, and a pipe blocks until someone reads.
    return f"it is {link}{kind}, not a regular file{hint if stat.S_ISCHR(mode) else ''}"


def not_a_folder(path: Path) -> str | None:
    """Why ``path`` (after links) cannot hold files, or ``None`` (a folder or nothing yet)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return None
    link = "a link to " if path.is_symlink() else ""
    return f"it is {link}{_kind(mode) or 'a file'}, not a folder"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; ``None`` for a regular file."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in kinds if test(mode)), "a special file")


def refuse_outputs(paths: Iterable[Path], reason_of: Callable[[Path], str | None], same_file_hint: str = "") -> None:
    """Raise :class:`OutputRefused` naming every path of ``paths`` that must not be written: the reason
    ``reason_of`` gives, or one path given twice (links and hard links included)."""
    reasons: list[str] = []
    taken: dict[tuple[str, ...], Path] = {}
    for path in paths:
        reason = reason_of(path)
        keys = identities(path)
        other = next((taken[key] for key in keys if key in taken), None)
        if reason is None and other is not None:
            reason = f"it is the same file as {_name(other)}{same_file_hint}"
        taken.update(dict.fromkeys(keys, path))
        if reason is not None:
            reasons.append(f"cannot write {_name(path)}: {reason}")
    if reasons:
        raise OutputRefused("\n".join(reasons))


def write_atomically(path: str | Path, text: str | bytes) -> bool:
    """Replace ``path`` with ``text`` in one step; ``False`` when it already had it (see :func:`write_all`)."""
    return bool(write_all({Path(path): text}))


def write_all(contents: Mapping[Path, str | bytes]) -> list[Path]:
    """Replace every path with its text, all or nothing; the paths that changed (the others had their text).

    A link is written through: its target is replaced and the link stays (a rules file linked from
    /etc, a Kubernetes ConfigMap mount). Anything but a regular file, or two paths of one file, raise
    :class:`OutputRefused` before anything is written. Each new text goes to a temporary file beside
    its target first; an ``OSError`` on the way (naming the path given, not the temporary) removes
    them all and leaves every target as it was. The renames that follow cannot fail for want of
    space or permission; only a crash between two of them, or a target turned into a folder
    meanwhile, leaves some files new and some old.
    """
    refuse_outputs(contents, not_a_file)
    planned = [(path, Path(os.path.realpath(path)), text.encode("utf-8") if isinstance(text, str) else text)
               for path, text in contents.items()]
    changed = [(path, target, data) for path, target, data in planned if not _holds(target, data)]
    temporaries: list[tuple[Path, Path, Path]] = []
    at: Path | None = None  # the file being written, for the message
    try:
        for given, target, data in changed:
            at = given
            temporaries.append((given, _temporary(target, data), target))
        for given, temporary, target in temporaries:
            at = given
            os.replace(temporary, target)
    except OSError as error:
        raise _naming(error, at) from error
    finally:
        for _path, temporary, _target in temporaries:
            temporary.unlink(missing_ok=True)  # gone when it was renamed into place
    return [path for path, _target, _data in changed]


def _temporary(target: Path, data: bytes) -> Path:
    """``data`` in a new hidden file beside ``target``, with ``target``'s permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        # mkstemp makes the file private (0600): a server running as another user (a packaged
        # Prometheus reading what root compiled, Grafana's provisioning) could no longer read it.
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _naming(error: OSError, path: Path | None) -> OSError:
    """``error`` about ``path``: a full disk names no file, mkstemp names its random temporary.
    A folder that could not be made keeps its own name (the file in the way is found from it)."""
    if path is None or (error.filename is not None and not _is_temporary(error.filename, path)):
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def _is_temporary(filename: object, path: Path) -> bool:
    name = os.path.basename(os.fsdecode(filename)) if isinstance(filename, (str, bytes, os.PathLike)) else ""
    return name.startswith(f".{Path(os.path.realpath(path)).name}.")


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
