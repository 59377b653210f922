"""The log store installs from its Apache-2.0 Go module; nothing of Loki (AGPL) is fetched, built or named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hms_otel.stack import builds

REPO = Path(__file__).resolve().parents[2]
#: Where naming Loki is allowed: documentation and production configs that name it as a log target, and this
#: test, which must name the module to check it is absent.
LOKI_ALLOWED = {
    "CHANGELOG.md",
    "README.md",
    "collector-config/README.md",
    "collector-config/gateway.yaml",
    "collector-config/builder-config.yaml",
    "collector-config/values.yaml",
    "tests/logs/test_install.py",
}


@pytest.mark.e2e
def test_install_on_a_clean_cache_builds_victorialogs_and_fetches_no_agpl_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path / "cache"))
    steps: list[str] = []
    path = builds.build_victorialogs(progress=steps.append)
    assert path == tmp_path / "cache" / "victoria-logs" / builds.VICTORIALOGS_VERSION / "victoria-logs"
    info = subprocess.run([builds.go_binary(), "version", "-m", str(path)], capture_output=True, text=True, timeout=30)
    assert f"{builds.VICTORIALOGS_MODULE}\t{builds.VICTORIALOGS_VERSION}" in info.stdout
    assert "grafana/loki" not in info.stdout  # not even as a dependency
    # Only the binary, its build log and lock are left; no scratch GOBIN.
    assert sorted(p.name for p in path.parent.iterdir()) == ["build.lock", "build.log", "victoria-logs"]
    cached = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*.log"))
    assert "grafana/loki" not in cached + "\n".join(steps)
    assert builds.build_victorialogs(progress=steps.append) == path
    assert "already built" in steps[-1]


@pytest.mark.e2e
def test_the_collector_links_no_agpl_module() -> None:
    collector = builds.find_binary("hms-otelcol")
    info = subprocess.run([builds.go_binary(), "version", "-m", str(collector)], capture_output=True, text=True)
    assert info.returncode == 0 and "go.opentelemetry.io/collector" in info.stdout
    assert "grafana/loki" not in info.stdout
    assert "grafana/loki" not in (collector.parent / "build.log").read_text(errors="replace")


def test_no_loki_outside_docs_and_production_configs() -> None:
    named = subprocess.run(["git", "grep", "-il", "loki"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert set(named) <= LOKI_ALLOWED, set(named) - LOKI_ALLOWED


def test_victorialogs_is_an_install_target() -> None:
    assert builds.INSTALL_TARGETS["victoria-logs"] == "victoria-logs"
    assert "loki" not in builds.INSTALL_TARGETS
