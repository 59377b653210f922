"""Install or build the binaries the stack runs, once per machine.

Everything built lands in the cache directory (``$HMS_OPS_CACHE``, default
``~/.cache/hms-ops``), keyed by what determines its content, so every clone of
the project reuses it:

- ``collector/<sha256 of the ocb manifest>/hms-otelcol``
- ``victoria-logs/<version>/victoria-logs``
- ``tools/builder-<ocb version>/builder``
- ``alertmanager/<version>/alertmanager`` and ``amtool`` (a tag's module never changes)

Each of those folders is one entry: its binaries, the log of its last build (``build.log``) and the
lock (``build.lock``) that lets one build of it run at a time; a second ``hms-ops install`` waits for
the first and uses what it built. A build writes into a scratch folder inside the entry and moves each
finished binary into place in one step, so a binary at its cache path is always a whole one; an entry
that is not (a folder, a file that is not executable or cut short) is rebuilt, not taken as built.

Prometheus and promtool come from Debian packages. Alertmanager is built from
its Go module: Debian's 0.25 serves no web UI (a placeholder page) and has no
Teams receiver; 0.31.1 has both, and its UI ships in the module (0.32+ needs an
npm build).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from hms_otel.stack.packaged import collector_config_dir
from hms_otel.terminal import safe_name

#: ocb and collector release the manifest is pinned to.
OCB_VERSION = "v0.161.0"
#: The local log store (Apache-2.0), built from its Go module.
VICTORIALOGS_VERSION = "v1.52.1"
VICTORIALOGS_MODULE = "github.com/VictoriaMetrics/VictoriaLogs"
ALERTMANAGER_VERSION = "v0.31.1"
ALERTMANAGER_MODULE = "github.com/prometheus/alertmanager"

#: binary name -> the `hms-ops install` target that provides it.
INSTALL_TARGETS: dict[str, str] = {
    "hms-otelcol": "collector",
    "victoria-logs": "victoria-logs",
    "prometheus": "debian",
    "promtool": "debian",
    "alertmanager": "alertmanager",
    "amtool": "alertmanager",
    "uplot": "uplot",
}
DEBIAN_PACKAGES = ("prometheus",)

Progress = Callable[[str], None]


class MissingBinary(RuntimeError):
    """A binary the stack needs is not installed; the message says how to get it."""

    def __init__(self, name: str, detail: str = "", hint: str = "") -> None:
        target = INSTALL_TARGETS.get(name, "")
        hint = hint or (f"run `hms-ops install {target}`" if target else "install it")
        super().__init__(f"{name} not found{f' ({detail})' if detail else ''}: {hint}")
        self.name = name


class BuildError(RuntimeError):
    """A build or install step failed; the message names the step and ends with its output."""


def cache_dir() -> Path:
    """The cache folder, absolute: a relative ``HMS_OPS_CACHE`` is taken from the current folder once, as
    Go refuses a relative GOBIN and every path printed or recorded must still hold from another folder."""
    chosen = os.environ.get("HMS_OPS_CACHE") or str(Path.home() / ".cache" / "hms-ops")
    return Path(os.path.abspath(os.path.expanduser(chosen)))


@contextlib.contextmanager
def cache_folder_errors() -> Iterator[None]:
    """A folder the cache cannot hold (the cache is a file, read-only, not ours) names the cache and the
    setting that chose it, before a build runs into it half-way or Go reports it as its own failure."""
    try:
        yield
    except OSError as error:
        from hms_otel.errors import os_error_text

        setting = "HMS_OPS_CACHE" if os.environ.get("HMS_OPS_CACHE") else "the default ~/.cache/hms-ops"
        raise BuildError(f"cannot use the build cache {cache_dir()} (from {setting}): {os_error_text(error)}; "
                         "set HMS_OPS_CACHE to a folder you can write") from None


def default_manifest() -> Path:
    """The ocb manifest shipped with the package (built from the repository's collector-config/)."""
    return collector_config_dir() / "builder-config.yaml"


try:
    # CPython's own SHA-256, as the random module takes its _sha512: hashlib loads OpenSSL first,
    # about 4 ms of `hms-ops up` before its first server. Same digest (tests/stack/test_builds.py).
    from _sha256 import sha256 as _new_sha256  # type: ignore[import-not-found]  # CPython 3.10, 3.11
except ImportError:  # pragma: no cover - other versions
    try:
        from _sha2 import sha256 as _new_sha256  # type: ignore[import-not-found]  # CPython 3.12+
    except ImportError:  # another Python
        from hashlib import sha256 as _new_sha256


def _sha256(*parts: bytes) -> str:
    digest = _new_sha256()
    for part in parts:
        digest.update(part)
    hexdigest: str = digest.hexdigest()
    return hexdigest[:16]


# -- lookup -------------------------------------------------------------------


def collector_path(manifest: Path | None = None) -> Path:
    """Where the collector built from ``manifest`` lives (it may not exist yet)."""
    manifest = manifest or default_manifest()
    return cache_dir() / "collector" / _sha256(manifest.read_bytes()) / "hms-otelcol"


def victorialogs_path(version: str = VICTORIALOGS_VERSION) -> Path:
    """Where the VictoriaLogs binary of ``version`` lives (it may not exist yet).

    A released module version never changes, so the version is the whole key.
    """
    return cache_dir() / "victoria-logs" / version / "victoria-logs"


def find_binary(name: str) -> Path:
    """Path of ``name`` (collector/VictoriaLogs from the cache, Debian tools from PATH) or :class:`MissingBinary`.

    ``HMS_OPS_<NAME>`` (e.g. ``HMS_OPS_VICTORIA_LOGS=/opt/victoria-logs``) overrides the lookup.
    """
    variable = "HMS_OPS_" + re.sub(r"\W", "_", name).upper()
    override = os.environ.get(variable)
    if override:
        problem = not_runnable(Path(override))
        if problem:
            raise MissingBinary(name, f"{variable}={override} {problem}", f"fix or unset {variable}")
        return Path(override)
    if name == "hms-otelcol":
        path = collector_path()
    elif name == "victoria-logs":
        path = victorialogs_path()
    elif name in ("alertmanager", "amtool"):
        path = alertmanager_dir() / name
    else:
        found = system_binary(name)
        if not found:
            raise MissingBinary(name)
        return Path(found)
    problem = not_runnable(path)
    if problem:
        raise MissingBinary(name, f"{safe_name(str(path))} {problem}")
    return path


def system_binary(name: str) -> str | None:
    """``name`` from the system (Debian's packages): on PATH, or in the system folders a PATH may lack."""
    return which(name) or which(name, path="/usr/bin:/usr/sbin:/usr/local/bin")


def not_runnable(path: Path) -> str | None:
    """Why ``path`` cannot be run as a program, or None. Checked before anything starts: a server that
    cannot be executed would otherwise fail only after the others were up (a binary cut short crashed
    with SIGSEGV on start, named as the server's crash rather than as a damaged file)."""
    if path.is_dir():
        return "is a folder, not a program"
    if not path.is_file():
        return "does not exist"
    if not os.access(path, os.X_OK):
        return "is not executable (chmod +x it)"
    return _cut_short(path)


def _cut_short(path: Path) -> str | None:
    """Why the program file ``path`` is not whole (empty, or an ELF file shorter than its own tables say), or
    None. Two small reads: the ELF header, then its program header table, which says where each segment
    the kernel loads ends in the file. A copy or download stopped early ends before the last one."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            end = _elf_end(handle) if size else 0
    except OSError:
        return None  # unreadable: starting it reports why
    if size == 0:
        return "is empty (an interrupted build or copy)"
    if end > size:
        return f"is cut short ({size} bytes of at least {end}: an interrupted build or copy, or a full disk)"
    return None


def _elf_end(handle: BinaryIO) -> int:
    """Where the last of an ELF file's header, tables and segments ends; 0 when it is not ELF (a script):
    such a file is judged by running it."""
    import struct

    header = handle.read(64)
    if not header.startswith(b"\x7fELF") or len(header) < 6:
        return 0
    wide, order = header[4] == 2, "<" if header[5] == 1 else ">"
    if len(header) < (64 if wide else 52):
        return 64 if wide else 52
    # e_phoff, e_shoff, then (after e_flags, e_ehsize) e_phentsize, e_phnum, e_shentsize, e_shnum
    layout = ("QQ", 0x20, 0x36) if wide else ("II", 0x1C, 0x2A)
    program_at, section_at = struct.unpack_from(order + layout[0], header, layout[1])
    program_entry, programs, section_entry, sections = struct.unpack_from(order + "HHHH", header, layout[2])
    end: int = max(program_at + program_entry * programs, section_at + section_entry * sections)
    # Each program header's p_offset and p_filesz: (8, 32) in ELF64, (4, 16) in ELF32.
    offset_at, size_at, word = (8, 32, "Q") if wide else (4, 16, "I")
    if programs and program_entry >= size_at + struct.calcsize(word):
        handle.seek(program_at)
        table = handle.read(program_entry * programs)
        for base in range(0, len(table) - program_entry + 1, program_entry):
            offset, length = (struct.unpack_from(order + word, table, base + at)[0] for at in (offset_at, size_at))
            end = max(end, offset + length)
    return end


def which(name: str, path: str | None = None) -> str | None:
    """The executable ``name`` on ``path`` (default ``$PATH``), as :func:`shutil.which` finds it.

    Not shutil itself: it loads bz2 and lzma, about 3 ms of `hms-ops up` before its first server.
    """
    search = os.environ.get("PATH", os.defpath) if path is None else path
    for folder in search.split(os.pathsep) if search else []:
        candidate = os.path.join(folder or os.curdir, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# -- running steps -------------------------------------------------------------


def _run(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    own_session: bool = False,
) -> None:
    """Run one build step; on failure raise BuildError with the tail of its output.

    ``own_session``: for a Go build, whose programs start programs of their own (ocb runs ``go build``,
    which runs ``compile`` and ``link``): interrupted (Ctrl-C, or SIGTERM on the command line), the
    step stops all of them, not only the first, and none builds on into a folder nobody removes.
    Not for ``sudo apt-get``, which may have to ask for a password on the terminal.
    """
    full_env = {**os.environ, **(env or {})}
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    # The log of this run only: appended, the failure's tail quoted lines of an earlier run as this one's.
    output_file = log.open("wb") if log is not None else None
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, start_new_session=own_session,
            stdout=output_file or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            captured, _ = proc.communicate()
        except BaseException:
            _stop(proc, own_session)
            raise
    except FileNotFoundError as error:
        raise BuildError(f"{step}: {argv[0]} not found ({error})") from None
    finally:
        if output_file is not None:
            output_file.close()
    output = log.read_text(errors="replace") if log is not None else str(captured)
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        where = f" (full log: {safe_name(str(log))})" if log else ""
        raise BuildError(f"{step} failed with exit code {proc.returncode}{where}:\n{tail}")


def _stop(proc: subprocess.Popen[str], whole_session: bool) -> None:
    """Stop an interrupted step: SIGTERM, then SIGKILL after 5 s; with ``whole_session``, every program
    it started too."""
    import signal

    def send(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if whole_session:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    send(signal.SIGKILL)  # the session's other programs too, which may outlive their parent
    proc.wait()


def go_binary() -> str:
    found = which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if not found:
        raise BuildError(
            "Go is not installed (no `go` on PATH or in /usr/local/go/bin): install Go >= 1.26 from "
            "https://go.dev/dl/ to build the collector and VictoriaLogs"
        )
    return found


# -- cache entries -------------------------------------------------------------------


def _usable(*binaries: Path) -> bool:
    """Whether every binary of an entry is there and whole, as `hms-ops up` will check it (find_binary): an
    entry it would refuse is rebuilt, never reported as built."""
    return all(not_runnable(binary) is None for binary in binaries)


@contextlib.contextmanager
def build_lock(entry: Path, what: str, progress: Progress) -> Iterator[None]:
    """Hold the build lock of the cache ``entry`` folder while building ``what`` into it.

    Two installs at once (two clones' ``scripts/test``) built the same minutes twice side by side; now the
    second waits, says for whom, and finds the first one's binaries. The kernel releases the lock of a
    killed build, so none is ever stale. Scratch folders left by a build killed outright (SIGKILL, power
    loss) are removed here, where no other build of the entry can be using them.
    """
    import fcntl
    import shutil

    with cache_folder_errors():
        entry.mkdir(parents=True, exist_ok=True)
        handle = (entry / "build.lock").open("a+")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            progress(f"waiting for another hms-ops install{f' (PID {holder})' if holder.isdigit() else ''} "
                     f"building {what}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        for leftover in entry.glob(f"{_SCRATCH}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield


#: Prefix of the scratch folders builds write into inside their entry.
_SCRATCH = "scratch-"


@contextlib.contextmanager
def scratch_folder(entry: Path) -> Iterator[Path]:
    """A scratch folder inside ``entry`` (same filesystem, so finished binaries move in one step), removed after."""
    import shutil
    import tempfile

    with cache_folder_errors():
        folder = Path(tempfile.mkdtemp(prefix=_SCRATCH, dir=entry))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _put_in_place(built: Path, target: Path) -> None:
    """Move the finished binary ``built`` to its cache path ``target`` in one step.

    Flushed to disk first: renamed before its blocks are written, a crash could leave an empty file at the
    path the next run takes as built. Whatever was at ``target`` goes (a folder, a damaged file): the path
    is this cache's, and the entry was found unusable before the build.
    """
    with built.open("rb") as handle:
        os.fsync(handle.fileno())
    built.chmod(0o755)  # the cache may be shared: readable and runnable by all, as `go install` makes it
    if target.is_dir() and not target.is_symlink():
        import shutil

        shutil.rmtree(target)
    os.replace(built, target)


def _go_install(step: str, go: str, modules: Sequence[str], entry: Path, names: Sequence[str],
                flags: Sequence[str] = ()) -> None:
    """``go install`` ``modules`` into a scratch GOBIN and move the binaries ``names`` into ``entry``.

    Never GOBIN=entry itself: go copies a binary it links from its build cache into GOBIN, so a build stopped
    during the copy left half a program at the path later runs took as built.
    """
    log = entry / "build.log"
    with scratch_folder(entry) as gobin:
        env = {"PATH": _path_with(go), "GOBIN": str(gobin), "CGO_ENABLED": "0"}
        _run(step, [go, "install", *flags, *modules], env=env, log=log, own_session=True)
        for name in names:
            built = gobin / name
            if not built.is_file():
                raise BuildError(f"{step} finished but made no {name}; see {safe_name(str(log))}")
            _put_in_place(built, entry / name)


# -- Debian packages -------------------------------------------------------------


def install_debian(progress: Progress = print) -> None:
    """``apt-get install`` Prometheus (and promtool) unless the binaries are already there.

    Debian's maintainer scripts would start both as system services on 9090
    and 9093, the ports ``hms-ops up`` wants. When running as root with no
    ``/usr/sbin/policy-rc.d`` in place, a temporary one (exit 101, "action
    forbidden") keeps them from starting; otherwise a running service shows up
    later as a clear port conflict. The stack never uses those services: it
    runs its own processes with their own ports and data directories.
    """
    wanted = ("prometheus", "promtool")
    missing = [name for name in wanted if not system_binary(name)]
    if not missing:
        progress("Prometheus already installed")
        return
    if not which("apt-get"):
        raise BuildError(
            f"{', '.join(missing)} missing and apt-get not available: install "
            f"{' '.join(DEBIAN_PACKAGES)} with your package manager"
        )
    if os.geteuid() != 0 and not which("sudo"):
        raise BuildError(
            f"{', '.join(missing)} missing: apt-get needs root and sudo is not installed; run "
            f"`hms-ops install debian` as root, or `apt-get install {' '.join(DEBIAN_PACKAGES)}` as root"
        )
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    progress("apt-get update")
    _run("apt-get update", [*sudo, "apt-get", "update"], env=env)
    progress(f"apt-get install {' '.join(DEBIAN_PACKAGES)}")
    with _services_not_started(progress):
        argv = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
        _run("apt-get install", argv, env=env)


_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


@contextlib.contextmanager
def _services_not_started(progress: Progress) -> Iterator[None]:
    if os.geteuid() != 0 or _POLICY_RC_D.exists():
        if not _POLICY_RC_D.exists():
            progress(
                "note: Debian may start prometheus as a system service; "
                "`sudo systemctl disable --now prometheus` frees 9090"
            )
        yield
        return
    _POLICY_RC_D.write_text("#!/bin/sh\n# written by hms-ops install for the duration of apt-get\nexit 101\n")
    _POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        _POLICY_RC_D.unlink(missing_ok=True)


# -- collector ---------------------------------------------------------------------


def ocb_path() -> Path:
    return cache_dir() / "tools" / f"builder-{OCB_VERSION}" / "builder"


def install_ocb(progress: Progress = print) -> Path:
    path = ocb_path()
    if _usable(path):
        return path
    module = f"go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}"
    with build_lock(path.parent, f"ocb {OCB_VERSION}", progress):
        if not _usable(path):
            progress(f"go install {module}")
            _go_install("installing ocb", go_binary(), [module], path.parent, [path.name])
    return path


def build_collector(manifest: Path | None = None, progress: Progress = print, force: bool = False) -> Path:
    """Build hms-otelcol from the ocb ``manifest`` unless the cache already has it; return its path."""
    manifest = (manifest or default_manifest()).resolve()
    if not manifest.is_file():
        raise BuildError(f"collector manifest {manifest} does not exist")
    target = collector_path(manifest)
    if _usable(target) and not force:
        progress(f"collector already built: {safe_name(str(target))}")
        return target
    import yaml  # only a build reads the manifest

    try:
        spec = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as error:
        raise BuildError(f"{manifest}: not valid YAML: {error}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("dist"), dict):
        raise BuildError(f"{manifest}: an ocb manifest needs a `dist:` mapping")
    go = go_binary()
    with build_lock(target.parent, "the collector", progress):
        if _usable(target) and not force:
            progress(f"collector already built: {safe_name(str(target))}")
            return target
        builder = install_ocb(progress)
        log = target.parent / "build.log"
        with scratch_folder(target.parent) as work:
            # ocb takes the output directory from the manifest; point a copy of it at our scratch dir.
            spec["dist"]["output_path"] = str(work / "src")
            spec["dist"]["name"] = "hms-otelcol"
            generated = work / "builder-config.yaml"
            generated.write_text(yaml.safe_dump(spec, sort_keys=False))
            progress(f"building the collector with ocb {OCB_VERSION} "
                     f"(several minutes on a cold cache; log: {safe_name(str(log))})")
            _run("ocb build", [str(builder), f"--config={generated}"], env={"PATH": _path_with(go)}, log=log,
                 own_session=True)
            built = work / "src" / "hms-otelcol"
            if not built.is_file():
                raise BuildError(f"ocb finished but {built} is missing; see {safe_name(str(log))}")
            _put_in_place(built, target)
    progress(f"collector built: {safe_name(str(target))} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target


def _path_with(go: str) -> str:
    return os.pathsep.join([str(Path(go).parent), os.environ.get("PATH", "")])


# -- VictoriaLogs ------------------------------------------------------------------


def build_victorialogs(
    version: str = VICTORIALOGS_VERSION, progress: Progress = print, force: bool = False
) -> Path:
    """``go install`` VictoriaLogs ``version`` into the cache unless it is there; return its path."""
    target = victorialogs_path(version)
    if _usable(target) and not force:
        progress(f"VictoriaLogs already built: {safe_name(str(target))}")
        return target
    go = go_binary()
    with build_lock(target.parent, f"VictoriaLogs {version}", progress):
        if _usable(target) and not force:
            progress(f"VictoriaLogs already built: {safe_name(str(target))}")
            return target
        module = f"{VICTORIALOGS_MODULE}/app/victoria-logs@{version}"
        log = target.parent / "build.log"
        progress(f"go install {module} (about 15 s on a warm module cache; log: {safe_name(str(log))})")
        _go_install("go install (VictoriaLogs)", go, [module], target.parent, [target.name], ["-ldflags=-s -w"])
    progress(f"VictoriaLogs built: {safe_name(str(target))} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target


# -- Alertmanager ------------------------------------------------------------------


def alertmanager_dir(version: str = ALERTMANAGER_VERSION) -> Path:
    """Where ``alertmanager`` and ``amtool`` of ``version`` live (they may not exist yet)."""
    return cache_dir() / "alertmanager" / version


def build_alertmanager(version: str = ALERTMANAGER_VERSION, progress: Progress = print, force: bool = False) -> Path:
    """``go install`` Alertmanager and amtool ``version`` into the cache unless there; return the directory.

    A version's binaries never change, so a reader that finds one replaced under it runs the same program.
    """
    target = alertmanager_dir(version)
    binaries = [target / name for name in ("alertmanager", "amtool")]
    if _usable(*binaries) and not force:
        progress(f"Alertmanager {version} already built: {safe_name(str(target))}")
        return target
    go = go_binary()
    with build_lock(target, f"Alertmanager {version}", progress):
        if _usable(*binaries) and not force:
            progress(f"Alertmanager {version} already built: {safe_name(str(target))}")
            return target
        log = target / "build.log"
        progress(f"building Alertmanager {version} and amtool with go install "
                 f"(about a minute; log: {safe_name(str(log))})")
        modules = [f"{ALERTMANAGER_MODULE}/cmd/{binary.name}@{version}" for binary in binaries]
        _go_install("go install (Alertmanager)", go, modules, target, [binary.name for binary in binaries])
    progress(f"Alertmanager built: {safe_name(str(target))}")
    return target
