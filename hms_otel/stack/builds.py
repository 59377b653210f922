"""Install or build the binaries the stack runs, once per machine.

Everything built lands in the cache directory (``$HMS_OPS_CACHE``, default
``~/.cache/hms-ops``), keyed by what determines its content, so every clone of
the project reuses it:

- ``collector/<sha256 of the ocb manifest>/hms-otelcol``
- ``loki/<version>-<sha256 of the wrapper module>/loki``
- ``tools/builder-<ocb version>/builder``

Prometheus, promtool, Alertmanager and amtool come from Debian packages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import yaml

from hms_otel.stack.packaged import collector_config_dir

#: ocb and collector release the manifest is pinned to.
OCB_VERSION = "v0.161.0"
LOKI_VERSION = "v3.7.8"
LOKI_MODULE = "github.com/grafana/loki/v3"

#: binary name -> the `hms-ops install` target that provides it.
INSTALL_TARGETS: dict[str, str] = {
    "hms-otelcol": "collector",
    "loki": "loki",
    "prometheus": "debian",
    "promtool": "debian",
    "prometheus-alertmanager": "debian",
    "amtool": "debian",
}
DEBIAN_PACKAGES = ("prometheus", "prometheus-alertmanager")

Progress = Callable[[str], None]


class MissingBinary(RuntimeError):
    """A binary the stack needs is not installed; the message says how to get it."""

    def __init__(self, name: str, detail: str = "") -> None:
        target = INSTALL_TARGETS.get(name, "")
        hint = f"run `hms-ops install {target}`" if target else "install it"
        super().__init__(f"{name} not found{f' ({detail})' if detail else ''}: {hint}")
        self.name = name


class BuildError(RuntimeError):
    """A build or install step failed; the message names the step and ends with its output."""


def cache_dir() -> Path:
    return Path(os.environ.get("HMS_OPS_CACHE") or Path.home() / ".cache" / "hms-ops").expanduser()


def default_manifest() -> Path:
    """The ocb manifest shipped with the package (built from the repository's collector-config/)."""
    return collector_config_dir() / "builder-config.yaml"


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


# -- lookup -------------------------------------------------------------------


def collector_path(manifest: Path | None = None) -> Path:
    """Where the collector built from ``manifest`` lives (it may not exist yet)."""
    manifest = manifest or default_manifest()
    return cache_dir() / "collector" / _sha256(manifest.read_bytes()) / "hms-otelcol"


def loki_path(version: str = LOKI_VERSION) -> Path:
    """Where the Loki binary of ``version`` lives (it may not exist yet).

    A tag's go.mod never changes, so the version plus the wrapper generator
    (its template and revision) determine the wrapper's content.
    """
    key = _sha256(version.encode(), _TOOLS_GO.encode(), _WRAPPER_REVISION.encode())
    return cache_dir() / "loki" / f"{version}-{key}" / "loki"


def find_binary(name: str) -> Path:
    """Path of ``name`` (collector/Loki from the cache, Debian tools from PATH) or :class:`MissingBinary`.

    ``HMS_OPS_<NAME>`` (e.g. ``HMS_OPS_LOKI=/opt/loki``) overrides the lookup.
    """
    variable = "HMS_OPS_" + re.sub(r"\W", "_", name).upper()
    override = os.environ.get(variable)
    if override:
        if not Path(override).is_file():
            raise MissingBinary(name, f"{variable}={override} does not exist")
        return Path(override)
    if name == "hms-otelcol":
        path = collector_path()
    elif name == "loki":
        path = loki_path()
    else:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin:/usr/local/bin")
        if not found:
            raise MissingBinary(name)
        return Path(found)
    if not path.is_file():
        raise MissingBinary(name, f"expected at {path}")
    return path


# -- running steps -------------------------------------------------------------


def _run(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> None:
    """Run one build step; on failure raise BuildError with the tail of its output."""
    full_env = {**os.environ, **(env or {})}
    try:
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as out:
                proc = subprocess.run(argv, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
            output = log.read_text(errors="replace")
        else:
            proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True)
            output = proc.stdout + proc.stderr
    except FileNotFoundError as error:
        raise BuildError(f"{step}: {argv[0]} not found ({error})") from None
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        where = f" (full log: {log})" if log else ""
        raise BuildError(f"{step} failed with exit code {proc.returncode}{where}:\n{tail}")


def go_binary() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if not found:
        raise BuildError(
            "Go is not installed (no `go` on PATH or in /usr/local/go/bin): install Go >= 1.26 from "
            "https://go.dev/dl/ to build the collector and Loki"
        )
    return found


# -- Debian packages -------------------------------------------------------------


def install_debian(progress: Progress = print) -> None:
    """``apt-get install`` Prometheus and Alertmanager unless their binaries are already there.

    Debian's maintainer scripts would start both as system services on 9090
    and 9093, the ports ``hms-ops up`` wants. When running as root with no
    ``/usr/sbin/policy-rc.d`` in place, a temporary one (exit 101, "action
    forbidden") keeps them from starting; otherwise a running service shows up
    later as a clear port conflict. The stack never uses those services: it
    runs its own processes with their own ports and data directories.
    """
    wanted = ("prometheus", "promtool", "prometheus-alertmanager", "amtool")
    missing = [name for name in wanted if not shutil.which(name)]
    if not missing:
        progress("Prometheus and Alertmanager already installed")
        return
    if not shutil.which("apt-get"):
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
                "note: Debian may start prometheus and prometheus-alertmanager as system services; "
                "`sudo systemctl disable --now prometheus prometheus-alertmanager` frees 9090/9093"
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
    progress(f"go install go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}")
    module = f"go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}"
    _run("installing ocb", [go_binary(), "install", module], env={"GOBIN": str(path.parent)})
    return path


def build_collector(manifest: Path | None = None, progress: Progress = print, force: bool = False) -> Path:
    """Build hms-otelcol from the ocb ``manifest`` unless the cache already has it; return its path."""
    manifest = (manifest or default_manifest()).resolve()
    if not manifest.is_file():
        raise BuildError(f"collector manifest {manifest} does not exist")
    target = collector_path(manifest)
    if target.is_file() and not force:
        progress(f"collector already built: {target}")
        return target
    try:
        spec = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as error:
        raise BuildError(f"{manifest}: not valid YAML: {error}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("dist"), dict):
        raise BuildError(f"{manifest}: an ocb manifest needs a `dist:` mapping")
    go = go_binary()
    builder = install_ocb(progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    log = target.parent / "build.log"
    try:
        # ocb takes the output directory from the manifest; point a copy of it at our scratch dir.
        spec["dist"]["output_path"] = str(work / "src")
        spec["dist"]["name"] = "hms-otelcol"
        generated = work / "builder-config.yaml"
        generated.write_text(yaml.safe_dump(spec, sort_keys=False))
        progress(f"building the collector with ocb {OCB_VERSION} (several minutes on a cold cache; log: {log})")
        _run("ocb build", [str(builder), f"--config={generated}"], env={"PATH": _path_with(go)}, log=log)
        built = work / "src" / "hms-otelcol"
        if not built.is_file():
            raise BuildError(f"ocb finished but {built} is missing; see {log}")
        os.replace(built, target)  # atomic, so a concurrent reader never sees half a binary
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress(f"collector built: {target} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target


def _path_with(go: str) -> str:
    return os.pathsep.join([str(Path(go).parent), os.environ.get("PATH", "")])


# -- Loki --------------------------------------------------------------------------

#: Bump when the way the wrapper module is generated changes, to rebuild Loki.
_WRAPPER_REVISION = "1: loki replace/exclude lines, local replaces dropped, CGO_ENABLED=0 -tags netgo"

_TOOLS_GO = f"""//go:build tools

// Package lokibuild only exists so `go mod tidy` resolves Loki's dependency graph.
package lokibuild

import _ "{LOKI_MODULE}/cmd/loki"
"""


def _loki_gomod_path(version: str) -> Path | None:
    """Loki's own go.mod in the module cache, or None if not downloaded yet."""
    gomodcache = os.environ.get("GOMODCACHE") or str(
        Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg" / "mod"
    )
    path = Path(gomodcache) / "cache" / "download" / LOKI_MODULE / "@v" / f"{version}.mod"
    return path if path.is_file() else None


def _loki_directives(loki_gomod: str) -> tuple[str, list[str]]:
    """Loki's ``go`` version and its replace/exclude lines, minus replaces onto local paths.

    Those replace lines only apply to the main module, so a wrapper must repeat
    them. The local ``./pkg/push`` replace is dropped: the pseudo-version Loki
    requires for pkg/push is served by the module proxy.
    """
    go_version = re.search(r"^go\s+(\S+)", loki_gomod, re.M)
    lines: list[str] = []
    block: str | None = None
    for raw in loki_gomod.splitlines():
        line = raw.split("//")[0].strip()
        if block:
            if line == ")":
                block = None
            elif line:
                lines.append(f"{block} {line}")
            continue
        match = re.match(r"^(replace|exclude)\s*(\()?\s*(.*)$", line)
        if not match:
            continue
        if match.group(2):
            block = match.group(1)
        elif match.group(3):
            lines.append(f"{match.group(1)} {match.group(3)}")
    lines = [ln for ln in lines if not re.search(r"=>\s*\.{1,2}/", ln)]
    return (go_version.group(1) if go_version else "1.26.5"), lines


def _loki_wrapper_gomod(version: str) -> str | None:
    source = _loki_gomod_path(version)
    if source is None:
        return None
    go_version, directives = _loki_directives(source.read_text())
    return "\n".join(
        [
            "module hms-ops/lokibuild",
            "",
            f"go {go_version}",
            "",
            f"require {LOKI_MODULE} {version}",
            "",
            *directives,
            "",
        ]
    )


def build_loki(version: str = LOKI_VERSION, progress: Progress = print, force: bool = False) -> Path:
    """Build Loki ``version`` through a generated wrapper module unless cached; return its path."""
    go = go_binary()
    env = {"PATH": _path_with(go), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    if _loki_gomod_path(version) is None:
        progress(f"downloading {LOKI_MODULE}@{version}")
        _run("downloading Loki", [go, "mod", "download", f"{LOKI_MODULE}@{version}"], env=env)
    target = loki_path(version)
    if target.is_file() and not force:
        progress(f"Loki already built: {target}")
        return target
    gomod = _loki_wrapper_gomod(version)
    if gomod is None:
        raise BuildError(f"downloaded {LOKI_MODULE}@{version} but its go.mod is not in the module cache")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = target.parent / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    (src / "go.mod").write_text(gomod)
    (src / "tools.go").write_text(_TOOLS_GO)
    log = target.parent / "build.log"
    progress(f"resolving Loki {version} dependencies (log: {log})")
    _run("go mod tidy (Loki wrapper)", [go, "mod", "tidy"], cwd=src, env=env, log=log)
    progress(f"compiling Loki {version} (CGO_ENABLED=0, -tags netgo; many minutes on a cold cache)")
    partial = target.with_suffix(".partial")
    _run(
        "go build (Loki)",
        [go, "build", "-tags", "netgo", "-ldflags=-s -w", "-o", str(partial), f"{LOKI_MODULE}/cmd/loki"],
        cwd=src,
        env=env,
        log=log,
    )
    os.replace(partial, target)
    progress(f"Loki built: {target} ({target.stat().st_size / 2**20:.0f} MiB)")
    return target
