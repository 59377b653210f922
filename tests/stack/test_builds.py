"""The binary lookup on `hms-ops up`'s path does without hashlib and shutil, with the same results."""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from hms_otel.stack import builds


def test_the_cache_key_is_the_manifest_sha256() -> None:
    manifest = builds.default_manifest().read_bytes()
    assert builds.collector_path().parent.name == hashlib.sha256(manifest).hexdigest()[:16]
    assert builds._sha256(b"a", b"bc") == hashlib.sha256(b"abc").hexdigest()[:16]


@pytest.mark.parametrize("name", ["sh", "prometheus", "setpriv", "no-such-program-here"])
def test_which_finds_what_shutil_finds(name: str) -> None:
    assert builds.which(name) == shutil.which(name)
    assert builds.which(name, path="/usr/bin:/bin") == shutil.which(name, path="/usr/bin:/bin")
    assert builds.which(name, path="") is shutil.which(name, path="") is None


def test_which_skips_files_that_are_not_executable_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tool").write_text("not executable")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tool").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "tool").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "c" / "tool", 0o755)
    monkeypatch.setenv("PATH", os.pathsep.join(str(tmp_path / d) for d in "abc"))
    assert builds.which("tool") == shutil.which("tool") == str(tmp_path / "c" / "tool")


@pytest.mark.parametrize("target", ["collector", "victoria-logs", "alertmanager", "uplot"])
def test_a_cache_that_cannot_hold_folders_is_named_with_its_setting(
        target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hms_otel.dashboards.uplot import install_uplot

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("HMS_OPS_CACHE", str(blocker))
    monkeypatch.setattr(builds, "_run", lambda *args, **kwargs: pytest.fail("a build ran into the cache"))
    steps = {"collector": builds.build_collector, "victoria-logs": builds.build_victorialogs,
             "alertmanager": builds.build_alertmanager, "uplot": install_uplot}
    if target == "uplot" and builds.which("npm") is None:
        pytest.skip("npm not installed: uplot stops before the cache")
    with pytest.raises(builds.BuildError) as raised:
        steps[target](progress=lambda _message: None)
    assert str(raised.value).startswith(f"cannot use the build cache {blocker} (from HMS_OPS_CACHE): ")
    assert f"{blocker} is a file, not a folder; set HMS_OPS_CACHE to a folder you can write" in str(raised.value)


FAKE_GO = """#!/bin/sh
# A `go install` that starts a program of its own and builds until stopped.
sleep 300 &
echo $! > "$1.grandchild"
echo $$ > "$1.child"
wait
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_sigterm_stops_a_build_with_the_programs_it_started_and_removes_its_scratch(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    fake = tmp_path / "bin"
    fake.mkdir()
    marks = tmp_path / "go"
    (fake / "go").write_text(FAKE_GO.replace('"$1', f'"{marks}'))
    (fake / "go").chmod(0o755)
    cache = tmp_path / "cache"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "HMS_OPS_CACHE": str(cache)}
    install = subprocess.Popen([sys.executable, "-c", "from hms_otel.tooling import main; main()",
                                "install", "victoria-logs"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{marks}.grandchild").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(Path(f"{marks}.child").read_text())
        grandchild = int(Path(f"{marks}.grandchild").read_text())
        install.send_signal(signal.SIGTERM)
        output, _ = install.communicate(timeout=30)
    finally:
        install.kill()
    assert install.returncode == 130, output
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child) and not _alive(grandchild), "a program of the stopped build runs on"
    assert not list(cache.rglob(f"{builds._SCRATCH}*")), "the build's scratch folder was left behind"
