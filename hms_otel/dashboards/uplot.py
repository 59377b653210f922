"""uPlot (MIT), the charting library of the local dashboard, fetched from the npm registry into the cache.

``hms-ops install uplot`` runs ``npm pack uplot@VERSION`` in a temporary directory, checks the
tarball against the pinned integrity (the registry's ``dist.integrity``) and keeps only the two
files the page loads, plus the licence: ``~/.cache/hms-ops/uplot/<version>/``. Nothing of it is
committed to the repository. Each kept file is checked against its pinned SHA-256 whenever it is
used, so a file changed in the cache afterwards is fetched again, never served.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hms_otel.stack.builds import BuildError, MissingBinary, Progress, build_lock, cache_dir, scratch_folder, which
from hms_otel.terminal import safe_name

VERSION = "1.6.32"
#: ``npm view uplot@1.6.32 dist.integrity``: a tarball that does not match is refused.
INTEGRITY = "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
#: Tarball member -> file name in the cache.
FILES = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "LICENSE",
}
#: File name in the cache -> SHA-256 of that member of the tarball of :data:`INTEGRITY`.
SHA256 = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "LICENSE": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}


def uplot_dir(version: str = VERSION) -> Path:
    return cache_dir() / "uplot" / version


def find_uplot(version: str = VERSION) -> Path:
    """The cache directory holding uPlot's files, each as pinned; else :class:`MissingBinary` with the install hint."""
    directory = uplot_dir(version)
    for name in FILES.values():
        problem = _file_problem(directory / name)
        if problem:
            raise MissingBinary("uplot", f"the dashboard's charting library: {safe_name(str(directory / name))} "
                                         f"{problem}")
    return directory


def _file_problem(path: Path) -> str | None:
    """Why the cached file ``path`` is not the pinned one, or None."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return "does not exist"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if hashlib.sha256(content).hexdigest() != SHA256[path.name]:
        return "differs from the pinned release (changed or damaged in the cache)"
    return None


def integrity_of(tarball: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()


def extract(tarball: bytes, target: Path) -> None:
    """Check ``tarball`` against :data:`INTEGRITY` and write :data:`FILES` into ``target``."""
    found = integrity_of(tarball)
    if found != INTEGRITY:
        raise BuildError(f"uplot@{VERSION} tarball integrity {found} does not match the pinned {INTEGRITY}")
    with scratch_folder(target.parent) as staging, scratch_folder(target.parent) as replaced:
        with tempfile.TemporaryFile() as handle:
            handle.write(tarball)
            handle.seek(0)
            with tarfile.open(fileobj=handle, mode="r:gz") as archive:
                for member, name in FILES.items():
                    source = archive.extractfile(member)
                    if source is None:
                        raise BuildError(f"uplot@{VERSION} tarball has no {member}")
                    content = source.read()
                    if hashlib.sha256(content).hexdigest() != SHA256[name]:  # VERSION changed, SHA256 not
                        raise BuildError(f"uplot@{VERSION} {member} does not match its pinned SHA-256 "
                                         "(hms_otel/dashboards/uplot.py SHA256)")
                    (staging / name).write_bytes(content)
                    with (staging / name).open("rb") as written:  # on disk before the folder is renamed in
                        os.fsync(written.fileno())
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
        if target.exists() or target.is_symlink():
            os.replace(target, replaced / "old")  # out of the way in one step; removed with the scratch folder
        staging.rename(target)  # atomic: a reader never sees half the files


def install_uplot(progress: Progress = print, force: bool = False) -> Path:
    """Fetch uPlot with ``npm pack`` into the cache (skipped when already there)."""
    target = uplot_dir()
    found = None if force else _already_fetched(progress)
    if found is not None:
        return found
    npm = which("npm")
    if npm is None:
        raise BuildError("npm not found: install Node.js and npm (Debian: apt-get install npm), then "
                         "run `hms-ops install uplot`")
    with build_lock(target.parent, f"uplot {VERSION}", progress):  # two installs at once: one fetch
        found = None if force else _already_fetched(progress)  # by the install this one waited for
        if found is not None:
            return found
        _fetch(npm, target, progress)
    progress(f"uplot: {target}")
    return target


def _already_fetched(progress: Progress) -> Path | None:
    try:
        found = find_uplot()
    except MissingBinary:
        return None
    progress(f"uplot already fetched: {safe_name(str(found))}")
    return found


def _fetch(npm: str, target: Path, progress: Progress) -> None:
    progress(f"uplot: npm pack uplot@{VERSION}")
    with tempfile.TemporaryDirectory(prefix="hms-uplot-") as temp:
        proc = subprocess.run([npm, "pack", f"uplot@{VERSION}", "--silent"], cwd=temp, capture_output=True,
                              text=True, timeout=300)
        tarballs = list(Path(temp).glob("uplot-*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise BuildError(f"npm pack uplot@{VERSION} failed:\n{(proc.stderr or proc.stdout).strip()}")
        extract(tarballs[0].read_bytes(), target)
