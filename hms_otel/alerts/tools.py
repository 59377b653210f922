"""Running promtool and amtool on generated text.

Outputs are written to a private temporary directory, checked there, and only
then may the caller put them in place: a broken compile never reaches the
files Prometheus and Alertmanager read.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hms_otel.errors import HmsError

_TIMEOUT_S = 120


class ToolMissing(HmsError, RuntimeError):
    """promtool or amtool is not installed."""


@dataclass(frozen=True)
class ToolRun:
    ok: bool
    output: str


def find_tool(name: str) -> str:
    """Path of ``promtool``/``amtool``; ``HMS_PROMTOOL``/``HMS_AMTOOL`` override the lookup.

    amtool is the one built with the stack's Alertmanager (``hms-ops install alertmanager``), so it
    checks configurations with the rules of the Alertmanager that will run them; a system amtool
    is the fallback.
    """
    from hms_otel.stack.builds import alertmanager_dir, not_runnable, which

    variable = f"HMS_{name.upper()}"
    how = "the Debian package prometheus" if name == "promtool" else "`hms-ops install alertmanager`"
    override = os.environ.get(variable)
    built = None
    if name == "amtool":
        candidate = alertmanager_dir() / "amtool"
        built = str(candidate) if os.path.lexists(candidate) else None
    found = override or built or which(name) or (
        f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if not found:
        raise ToolMissing(f"{name} not found; install it with {how} or set {variable}")
    # Checked before use: a damaged one (an interrupted build) failed every check as if the alerts were wrong.
    problem = not_runnable(Path(found))
    if problem:
        fix = f"fix or unset {variable}" if override else f"install it again with {how}"
        raise ToolMissing(f"{name} {found}{f' (from {variable})' if override else ''} {problem}: {fix}")
    return found


def _run(args: list[str], cwd: str) -> ToolRun:
    try:
        completed = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return ToolRun(False, f"{Path(args[0]).name} did not finish within {_TIMEOUT_S}s")
    except OSError as error:
        return ToolRun(False, f"cannot run {args[0]}: {error}")
    return ToolRun(completed.returncode == 0, (completed.stdout + completed.stderr).strip())


def check_rules(rules_yaml: str) -> ToolRun:
    """``promtool check rules`` on the text."""
    with tempfile.TemporaryDirectory(prefix="hms-alerts-") as tmp:
        Path(tmp, "rules.yml").write_text(rules_yaml, encoding="utf-8")
        return _run([find_tool("promtool"), "check", "rules", "rules.yml"], tmp)


def check_alertmanager(config_yaml: str) -> ToolRun:
    """``amtool check-config`` on the text."""
    with tempfile.TemporaryDirectory(prefix="hms-alerts-") as tmp:
        Path(tmp, "alertmanager.yml").write_text(config_yaml, encoding="utf-8")
        return _run([find_tool("amtool"), "check-config", "alertmanager.yml"], tmp)


def route(config_yaml: str, labels: dict[str, str]) -> list[str]:
    """Receivers ``amtool config routes test`` picks for an alert with ``labels``."""
    with tempfile.TemporaryDirectory(prefix="hms-alerts-") as tmp:
        Path(tmp, "alertmanager.yml").write_text(config_yaml, encoding="utf-8")
        args = [find_tool("amtool"), "config", "routes", "test", "--config.file=alertmanager.yml"]
        # Quoted: values with spaces ("quick start") are one value to both matcher parsers.
        args += [f"{name}={json.dumps(value)}" for name, value in sorted(labels.items())]
        completed = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"amtool config routes test failed: {completed.stderr.strip()}")
    lines = [line for line in completed.stdout.strip().splitlines() if line and "level=" not in line]
    return [name for name in (lines[-1] if lines else "").split(",") if name]


def test_rules(rules_yaml: str, tests: dict[str, str]) -> dict[str, ToolRun]:
    """Run each promtool unit-test file (name -> text) against ``rules.yml``."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="hms-alerts-") as tmp:
        Path(tmp, "rules.yml").write_text(rules_yaml, encoding="utf-8")
        promtool = find_tool("promtool")
        for name, text in tests.items():
            Path(tmp, name).write_text(text, encoding="utf-8")
            results[name] = _run([promtool, "test", "rules", name], tmp)
    return results
