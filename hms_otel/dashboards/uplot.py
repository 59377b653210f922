"""uPlot (MIT), the charting library of the local dashboard, fetched from the npm registry into the cache.

``hms-ops install uplot`` runs ``npm pack uplot@VERSION`` in a temporary directory, checks the
tarball against the pinned integrity (the registry's ``dist.integrity``) and keeps only the two
files the page loads, plus the licence: ``~/.cache/hms-ops/uplot/<version>/``. Nothing of it is
committed to the repository.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hms_otel.stack.builds import BuildError, MissingBinary, Progress, cache_dir, cache_folder_errors, which
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


def uplot_dir(version: str = VERSION) -> Path:
    return cache_dir() / "uplot" / version


def find_uplot(version: str = VERSION) -> Path:
    """The cache directory holding uPlot's files; :class:`MissingBinary` with the install hint if absent."""
    directory = uplot_dir(version)
    if all((directory / name).is_file() for name in FILES.values()):
        return directory
    raise MissingBinary("uplot", f"the dashboard's charting library, expected in {directory}")


def integrity_of(tarball: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()


def extract(tarball: bytes, target: Path) -> None:
    """Check ``tarball`` against :data:`INTEGRITY` and write :data:`FILES` into ``target``."""
    found = integrity_of(tarball)
    if found != INTEGRITY:
        raise BuildError(f"uplot@{VERSION} tarball integrity {found} does not match the pinned {INTEGRITY}")
    with cache_folder_errors():
        staging = Path(tempfile.mkdtemp(prefix="uplot-", dir=target.parent))
    try:
        with tempfile.TemporaryFile() as handle:
            handle.write(tarball)
            handle.seek(0)
            with tarfile.open(fileobj=handle, mode="r:gz") as archive:
                for member, name in FILES.items():
                    source = archive.extractfile(member)
                    if source is None:
                        raise BuildError(f"uplot@{VERSION} tarball has no {member}")
                    (staging / name).write_bytes(source.read())
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # atomic: another process never sees half the files
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_uplot(progress: Progress = print, force: bool = False) -> Path:
    """Fetch uPlot with ``npm pack`` into the cache (skipped when already there)."""
    target = uplot_dir()
    if not force:
        try:
            found = find_uplot()
        except MissingBinary:
            pass
        else:
            progress(f"uplot already fetched: {safe_name(str(found))}")
            return found
    npm = which("npm")
    if npm is None:
        raise BuildError("npm not found: install Node.js and npm (Debian: apt-get install npm), then "
                         "run `hms-ops install uplot`")
    with cache_folder_errors():
        target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"uplot: npm pack uplot@{VERSION}")
    with tempfile.TemporaryDirectory(prefix="hms-uplot-") as temp:
        proc = subprocess.run([npm, "pack", f"uplot@{VERSION}", "--silent"], cwd=temp, capture_output=True,
                              text=True, timeout=300)
        tarballs = list(Path(temp).glob("uplot-*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise BuildError(f"npm pack uplot@{VERSION} failed:\n{(proc.stderr or proc.stdout).strip()}")
        extract(tarballs[0].read_bytes(), target)
    progress(f"uplot: {target}")
    return target
