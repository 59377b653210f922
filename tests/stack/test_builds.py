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
