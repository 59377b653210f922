"""`hms-ops install` and the build cache, with a fake `go` (and ocb): an entry `hms-ops up` would refuse is
rebuilt, a stopped build leaves no half binary, two installs build once, failures name this run's output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.cli import cli
from hms_otel.stack import builds

#: `go install MOD@V ...` writing a small program per module into $GOBIN. FAKE_GO_LOG gets one line per run;
#: FAKE_GO_HALF writes half a program first and fails (a build stopped while go copies it into GOBIN);
#: FAKE_GO_WAIT holds the build until that file exists; FAKE_GO_FAIL fails with that text.
FAKE_GO = r"""#!/bin/sh
[ "$1" = install ] || exit 0
shift
case "$GOBIN" in /*) ;; *) echo "cannot install, GOBIN must be an absolute path"; exit 1;; esac
[ -n "$FAKE_GO_LOG" ] && echo "$$" >> "$FAKE_GO_LOG"
[ -n "$FAKE_GO_FAIL" ] && { echo "$FAKE_GO_FAIL"; exit 1; }
if [ -n "$FAKE_GO_WAIT" ]; then
  while [ ! -e "$FAKE_GO_WAIT" ]; do sleep 0.05; done
fi
for module in "$@"; do
  case "$module" in -*) continue;; esac
  name=${module%@*}; name=${name##*/}
  if [ -n "$FAKE_GO_HALF" ]; then printf '\177ELF' > "$GOBIN/$name"; exit 2; fi
  printf '#!/bin/sh\necho %s\n' "$name" > "$GOBIN/$name"
  chmod +x "$GOBIN/$name"
done
"""

#: ocb: writes hms-otelcol into the manifest's output_path.
FAKE_OCB = r"""#!/bin/sh
config=${1#--config=}
out=$(sed -n 's/^ *output_path: *//p' "$config")
mkdir -p "$out"
printf '#!/bin/sh\necho hms-otelcol\n' > "$out/hms-otelcol"
chmod +x "$out/hms-otelcol"
"""


def _program(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch cache and a fake `go` first on PATH; returns the cache."""
    _program(tmp_path / "bin" / "go", FAKE_GO)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    monkeypatch.setenv("HMS_OPS_CACHE", str(cache))
    return cache


def _cut_short_program(path: Path) -> None:
    """The first 4 KiB of a real ELF program: executable, starts like one, ends long before its segments."""
    with open(os.path.realpath(sys.executable), "rb") as source:
        path.write_bytes(source.read(4096))
    path.chmod(0o755)


#: Ways a file at a binary's cache path is not a usable binary.
DAMAGE: dict[str, Callable[[Path], None]] = {
    "not executable": lambda path: path.write_text("#!/bin/sh\n"),
    "a folder": lambda path: (path.mkdir(), (path / "inside").write_text("x")),
    "a dangling link": lambda path: path.symlink_to(path.parent / "gone"),
    "empty": lambda path: _program(path, ""),
    "cut short": _cut_short_program,
}


def _victorialogs() -> list[Path]:
    return [builds.victorialogs_path()]


def _alertmanager() -> list[Path]:
    return [builds.alertmanager_dir() / "amtool"]  # alertmanager itself is left whole: half an entry


def _collector() -> list[Path]:
    return [builds.collector_path()]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize(("target", "damaged"),
                         [("victoria-logs", _victorialogs), ("alertmanager", _alertmanager),
                          ("collector", _collector)])
def test_a_cache_entry_up_would_refuse_is_rebuilt_not_reported_as_built(
        target: str, damaged: Callable[[], list[Path]], damage: str, fake_go: Path) -> None:
    _program(builds.ocb_path(), FAKE_OCB)
    _program(builds.alertmanager_dir() / "alertmanager", "#!/bin/sh\n")
    for path in damaged():
        path.parent.mkdir(parents=True, exist_ok=True)
        DAMAGE[damage](path)
    result = CliRunner().invoke(cli, ["install", target])
    assert result.exit_code == 0, result.output
    assert "already built" not in result.output
    names = {"victoria-logs": ["victoria-logs"], "alertmanager": ["alertmanager", "amtool"],
             "collector": ["hms-otelcol"]}[target]
    for name in names:
        assert builds.find_binary(name).is_file()  # what `hms-ops up` asks
    again = CliRunner().invoke(cli, ["install", target])
    assert again.exit_code == 0 and "already built" in again.output, again.output


def test_up_names_a_cut_short_binary_and_the_install_that_rebuilds_it(fake_go: Path) -> None:
    cached = builds.victorialogs_path()
    cached.parent.mkdir(parents=True)
    _cut_short_program(cached)
    with pytest.raises(builds.MissingBinary, match=r"is cut short \(4096 bytes of at least \d+: .*\): "
                                                   r"run `hms-ops install victoria-logs`"):
        builds.find_binary("victoria-logs")


@pytest.mark.parametrize("damage", DAMAGE)
def test_the_alert_checks_name_a_damaged_amtool_with_the_install_that_rebuilds_it(
        damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hms_otel.alerts.tools import ToolMissing, find_tool

    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HMS_AMTOOL", raising=False)
    amtool = builds.alertmanager_dir() / "amtool"
    amtool.parent.mkdir(parents=True)
    DAMAGE[damage](amtool)
    with pytest.raises(ToolMissing) as raised:  # it used to be run, and every check failed as if the alerts did
        find_tool("amtool")
    assert str(raised.value).startswith(f"amtool {amtool} ")
    assert str(raised.value).endswith(": install it again with `hms-ops install alertmanager`")


def test_an_alert_tool_override_that_cannot_run_names_its_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hms_otel.alerts.tools import ToolMissing, find_tool

    monkeypatch.setenv("HMS_PROMTOOL", str(tmp_path / "no-such-promtool"))
    with pytest.raises(ToolMissing, match=r"\(from HMS_PROMTOOL\) does not exist: fix or unset HMS_PROMTOOL$"):
        find_tool("promtool")


def test_whole_programs_are_not_taken_for_cut_short_ones() -> None:
    for program in (sys.executable, "/bin/sh", builds.which("prometheus")):
        if program:
            assert builds._cut_short(Path(os.path.realpath(program))) is None, program


def test_a_build_stopped_while_go_writes_the_binary_leaves_nothing_taken_as_built(
        fake_go: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GO_HALF", "1")
    with pytest.raises(builds.BuildError, match="installing ocb failed"):
        builds.install_ocb(progress=lambda _message: None)
    assert not builds.ocb_path().exists(), "half an ocb at its cache path"
    # A build killed outright (SIGKILL: no clean-up ran) leaves its scratch folder; the next build removes it.
    left = builds.ocb_path().parent / f"{builds._SCRATCH}killed"
    left.mkdir()
    (left / "builder").write_text("half")
    monkeypatch.delenv("FAKE_GO_HALF")
    steps: list[str] = []
    assert builds.install_ocb(progress=steps.append) == builds.ocb_path()
    assert subprocess.run([builds.ocb_path()], capture_output=True, text=True).stdout == "builder\n"
    assert not left.exists()


def test_a_relative_cache_setting_is_taken_from_the_current_folder(
        fake_go: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HMS_OPS_CACHE", "relative-cache")
    assert builds.cache_dir() == tmp_path / "relative-cache"
    path = builds.build_victorialogs(progress=lambda _message: None)  # go refuses a relative GOBIN
    monkeypatch.chdir("/")
    assert path == tmp_path / "relative-cache" / "victoria-logs" / builds.VICTORIALOGS_VERSION / "victoria-logs"
    assert path.is_file()


def test_a_failed_build_quotes_this_run_not_an_earlier_one(fake_go: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for text in ("first run: proxy unreachable", "second run: disk full"):
        monkeypatch.setenv("FAKE_GO_FAIL", text)
        with pytest.raises(builds.BuildError) as raised:
            builds.build_victorialogs(progress=lambda _message: None)
    assert "second run: disk full" in str(raised.value)
    assert "first run" not in str(raised.value)


def test_two_installs_at_once_build_once_and_the_second_says_whom_it_waits_for(
        fake_go: Path, tmp_path: Path) -> None:
    runs, release = tmp_path / "go-runs", tmp_path / "release"
    env = {**os.environ, "FAKE_GO_LOG": str(runs), "FAKE_GO_WAIT": str(release), "COLUMNS": "200"}
    command = [sys.executable, "-c", "from hms_otel.tooling import main; main()", "install", "victoria-logs"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second = None
    try:
        deadline = time.monotonic() + 30
        while not runs.is_file() and time.monotonic() < deadline:  # the first is building
            time.sleep(0.05)
        second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lock = builds.victorialogs_path().parent / "build.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(  # the second waits on the lock (a "->" line)
                "->" in line and f":{os.stat(lock).st_ino} " in line
                for line in Path("/proc/locks").read_text().splitlines()):
            time.sleep(0.05)
        release.touch()
        first_output, _ = first.communicate(timeout=30)
        second_output, _ = second.communicate(timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
    assert first.returncode == second.returncode == 0, first_output + second_output
    assert len(runs.read_text().split()) == 1, "both installs ran go"
    assert f"waiting for another hms-ops install (PID {first.pid}) building VictoriaLogs" in second_output
    assert "VictoriaLogs already built" in second_output


def test_install_force_builds_again(fake_go: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "go-runs"
    monkeypatch.setenv("FAKE_GO_LOG", str(runs))
    for arguments in (["install", "victoria-logs"], ["install", "victoria-logs"], ["install", "--force",
                                                                                  "victoria-logs"]):
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 0, result.output
    assert len(runs.read_text().split()) == 2


def test_debian_packages_without_root_or_sudo_say_how_to_install_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _program(tmp_path / "bin" / "apt-get", "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(builds, "system_binary", lambda _name: None, raising=False)  # not in /usr/bin either
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(builds.BuildError, match=r"^prometheus, promtool missing: apt-get needs root and sudo is "
                                                r"not installed; run `hms-ops install debian` as root"):
        builds.install_debian(progress=lambda _message: None)


def test_debian_packages_found_off_path_are_not_installed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not all(os.access(f"/usr/bin/{name}", os.X_OK) for name in ("prometheus", "promtool")):
        pytest.skip("Debian's prometheus package is not installed")
    monkeypatch.setenv("PATH", str(tmp_path))  # `hms-ops up` finds them in /usr/bin all the same
    steps: list[str] = []
    builds.install_debian(progress=steps.append)
    assert steps == ["Prometheus already installed"]
