"""Install or build the binaries the stack runs, once per machine.

Everything built lands in the cache directory (``$HMS_OPS_CACHE``, default
``~/.cache/hms-ops``), keyed by what determines its content, so every clone of
the project reuses it:

- ``collector/<sha256 of the ocb manifest>/hms-otelcol``
- ``victoria-logs/<version>/victoria-logs``
- ``tools/builder-<ocb version>/builder``
- ``alertmanager/<version>/alertmanager`` and ``amtool`` (a tag's module never changes)

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
    return Path(os.environ.get("HMS_OPS_CACHE") or Path.home() / ".cache" / "hms-ops").expanduser()


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
        problem = _not_runnable(Path(override))
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
        found = which(name) or which(name, path="/usr/bin:/usr/sbin:/usr/local/bin")
        if not found:
            raise MissingBinary(name)
        return Path(found)
    problem = _not_runnable(path)
    if problem:
        raise MissingBinary(name, f"{safe_name(str(path))} {problem}")
    return path


def _not_runnable(path: Path) -> str | None:
    """Why ``path`` cannot be run as a program, or None. Checked before anything starts: a server that
    cannot be executed would otherwise fail only after the others were up."""
    if path.is_dir():
        return "is a folder, not a program"
    if not path.is_file():
        return "does not exist"
    if not os.access(path, os.X_OK):
        return "is not executable (chmod +x it)"
    return None


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
    output_file = log.open("ab") if log is not None else None
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
    missing = [name for name in wanted if not which(name)]
    if not missing:
        progress("Prometheus already installed")
        return
    if not which("apt-get"):
        raise BuildError(
            f"{', '.join(missing)} missing and apt-get not available: install "
            f"{' '.join(DEBIAN_PACKAGES)} with your package manager"
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
    if path.is_file():
        return path
    with cache_folder_errors():
        path.parent.mkdir(parents=True, exist_ok=True)
    progress(f"go install go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}")
    module = f"go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}"
    _run("installing ocb", [go_binary(), "install", module], env={"GOBIN": str(path.parent)}, own_session=True)
    return path


def build_collector(manifest: Path | None = None, progress: Progress = print, force: bool = False) -> Path:
    """Build hms-otelcol from the ocb ``manifest`` unless the cache already has it; return its path."""
    manifest = (manifest or default_manifest()).resolve()
    if not manifest.is_file():
        raise BuildError(f"collector manifest {manifest} does not exist")
    target = collector_path(manifest)
    if target.is_file() and not force:
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
    builder = install_ocb(progress)
    import shutil
    import tempfile

    with cache_folder_errors():
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    log = target.parent / "build.log"
    try:
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
        os.replace(built, target)  # atomic, so a concurrent reader never sees half a binary
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress(f"collector built: {safe_name(str(target))} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target


def _path_with(go: str) -> str:
    return os.pathsep.join([str(Path(go).parent), os.environ.get("PATH", "")])


# -- VictoriaLogs ------------------------------------------------------------------


def build_victorialogs(
    version: str = VICTORIALOGS_VERSION, progress: Progress = print, force: bool = False
) -> Path:
    """``go install`` VictoriaLogs ``version`` into the cache unless it is there; return its path.

    ``GOBIN`` points at a scratch directory next to the target and the binary is
    renamed into place, so a concurrent reader (another clone, another test run)
    never sees half a binary.
    """
    target = victorialogs_path(version)
    if target.is_file() and not force:
        progress(f"VictoriaLogs already built: {safe_name(str(target))}")
        return target
    go = go_binary()
    import shutil
    import tempfile

    with cache_folder_errors():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="gobin-", dir=target.parent))
    log = target.parent / "build.log"
    try:
        module = f"{VICTORIALOGS_MODULE}/app/victoria-logs@{version}"
        progress(f"go install {module} (about 15 s on a warm module cache; log: {safe_name(str(log))})")
        env = {"PATH": _path_with(go), "GOBIN": str(scratch), "CGO_ENABLED": "0"}
        _run("go install (VictoriaLogs)", [go, "install", "-ldflags=-s -w", module], env=env, log=log,
             own_session=True)
        built = scratch / "victoria-logs"
        if not built.is_file():
            raise BuildError(f"go install finished but {built} is missing; see {safe_name(str(log))}")
        os.replace(built, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"VictoriaLogs built: {safe_name(str(target))} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target


# -- Alertmanager ------------------------------------------------------------------


def alertmanager_dir(version: str = ALERTMANAGER_VERSION) -> Path:
    """Where ``alertmanager`` and ``amtool`` of ``version`` live (they may not exist yet)."""
    return cache_dir() / "alertmanager" / version


def build_alertmanager(version: str = ALERTMANAGER_VERSION, progress: Progress = print, force: bool = False) -> Path:
    """``go install`` Alertmanager and amtool ``version`` into the cache unless there; return the directory.

    Both are built into a scratch GOBIN next to the target and the directory is
    renamed into place in one step, so a concurrent reader sees both binaries or none.
    """
    target = alertmanager_dir(version)
    if all((target / name).is_file() for name in ("alertmanager", "amtool")) and not force:
        progress(f"Alertmanager {version} already built: {safe_name(str(target))}")
        return target
    go = go_binary()
    import shutil
    import tempfile

    with cache_folder_errors():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".build-{version}-", dir=target.parent))
    log = target.parent / f"build-{version}.log"
    try:
        progress(f"building Alertmanager {version} and amtool with go install "
                 f"(about a minute; log: {safe_name(str(log))})")
        modules = [f"{ALERTMANAGER_MODULE}/cmd/{name}@{version}" for name in ("alertmanager", "amtool")]
        _run("go install (Alertmanager)", [go, "install", *modules],
             env={"GOBIN": str(scratch), "PATH": _path_with(go), "CGO_ENABLED": "0"}, log=log, own_session=True)
        if force and target.exists():
            shutil.rmtree(target)
        try:
            os.rename(scratch, target)  # atomic; fails if another build finished first, whose binaries we keep
        except OSError:
            if not (target / "alertmanager").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"Alertmanager built: {safe_name(str(target))}")
    return target
