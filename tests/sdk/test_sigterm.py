"""Issue 13 class 2, in isolation: the SIGTERM flush chains to the handler that was there."""

from __future__ import annotations

import signal
import subprocess
import sys

SCRIPT = """
import os, signal, sys
from hms_otel.sigterm import flush_on_sigterm
mode = sys.argv[1]
if mode == "previous-handler":
    signal.signal(signal.SIGTERM, lambda s, f: (print("previous handler", flush=True), sys.exit(3)))
elif mode == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
flush_on_sigterm(lambda terminating: print(f"flushed terminating={terminating}", flush=True))
flush_on_sigterm(lambda terminating: print("installed twice", flush=True))  # a second install is a no-op
os.kill(os.getpid(), signal.SIGTERM)
print("still running", flush=True)
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=30)


def test_default_disposition_flushes_then_dies_by_sigterm() -> None:
    done = _run("default")
    assert done.stdout.splitlines() == ["flushed terminating=True"]
    assert done.returncode == -signal.SIGTERM


def test_a_previous_handler_still_runs_after_the_flush() -> None:
    done = _run("previous-handler")
    assert done.stdout.splitlines() == ["flushed terminating=False", "previous handler"]
    assert done.returncode == 3


def test_an_ignored_sigterm_stays_ignored() -> None:
    done = _run("ignored")
    assert done.stdout.splitlines() == ["flushed terminating=False", "still running"]
    assert done.returncode == 0
