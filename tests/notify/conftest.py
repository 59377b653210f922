"""A real VictoriaLogs for the probable-source tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel.stack.builds import cache_dir
from hms_otel.stack.processes import ManagedProcess, free_port


def victoria_logs_binary() -> Path:
    candidates = [shutil.which("victoria-logs"), str(cache_dir() / "victoria-logs" / "v1.52.1" / "victoria-logs"),
                  "/tmp/gobin-vl/victoria-logs"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("victoria-logs not found: run `hms-ops install`", pytrace=False)


@pytest.fixture
def victorialogs(tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh VictoriaLogs on a free port (stopped by PID afterwards)."""
    port = free_port()
    process = ManagedProcess("victorialogs", [victoria_logs_binary(), f"-httpListenAddr=127.0.0.1:{port}",
                                              f"-storageDataPath={tmp_path / 'vl-data'}"],
                             log_path=tmp_path / "victorialogs.log", ready_url=f"http://127.0.0.1:{port}/health")
    with process:
        yield f"http://127.0.0.1:{port}"
