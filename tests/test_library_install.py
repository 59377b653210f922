"""The library apart from the tooling: a fresh virtual environment with only
`pip install <checkout>` (no extras) runs an instrumented service, has no CLI
or web dependency, and `hms-ops` says in one line what to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLING_ONLY = {"click", "rich", "jsonschema", "watchfiles", "prometheus-client", "prometheus_client"}

APP = """
import json, sys
from hms_otel import metric

@metric.timer("payment_latency_ms")
def pay():
    return "paid"

for _ in range(3):
    pay()
metric.declare("refund_pdf_total")
metric.increment("refund_pdf_total", value="v")
imported = sorted(m for m in ("click", "rich", "jsonschema", "watchfiles", "prometheus_client") if m in sys.modules)
print(json.dumps({"paid": pay(), "tooling_imported": imported}))
"""


@pytest.fixture(scope="module")
def library_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("library-only") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # Dependencies come from the package index (or pip's cache); the checkout is copied by pip.
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_library_only_install_has_no_tooling_dependencies(library_venv: Path) -> None:
    listed = subprocess.run(
        [str(library_venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "hms-otel" in installed
    assert not installed & TOOLING_ONLY, installed & TOOLING_ONLY
    shown = subprocess.run(
        [str(library_venv / "bin" / "python"), "-m", "pip", "show", "hms-otel"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    requires = next(line for line in shown.splitlines() if line.startswith("Requires:"))
    assert not {name.strip().lower() for name in requires[len("Requires:") :].split(",")} & TOOLING_ONLY


def test_library_only_install_runs_an_instrumented_service(library_venv: Path, tmp_path: Path) -> None:
    app = tmp_path / "service.py"
    app.write_text(APP)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "HMS_", "PYTHON"))}
    env.update(OTEL_METRICS_EXPORTER="console", OTEL_LOGS_EXPORTER="none", OTEL_METRIC_EXPORT_INTERVAL="60000")
    done = subprocess.run(
        [str(library_venv / "bin" / "opentelemetry-instrument"), str(library_venv / "bin" / "python"), str(app)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout.splitlines()[0])
    assert first == {"paid": "paid", "tooling_imported": []}
    # The console exporter's final export at exit: the timer and the declared counter.
    assert '"name": "payment_latency_ms"' in done.stdout and '"name": "refund_pdf_total"' in done.stdout


def test_hms_ops_without_the_extra_says_what_to_install(library_venv: Path) -> None:
    done = subprocess.run(
        [str(library_venv / "bin" / "hms-ops"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "install hms-otel[ops]" in done.stderr


def test_library_only_install_serves_metrics_and_loads_hook_files_without_tooling(
    library_venv: Path, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text("- {target: 'json:dumps', record: [{metric: dumps_total, kind: counter}]}\n")
    code = (
        "import sys, urllib.request\n"
        "from hms_otel import OPSAgent, metric\n"
        "from hms_otel.hooks import HooksInstrumentor\n"
        "with OPSAgent(port=0, service_name='lib-only') as agent:\n"
        "    HooksInstrumentor().instrument()\n"
        "    import json; json.dumps(1)\n"
        "    text = urllib.request.urlopen(agent.metrics_url, timeout=10).read().decode()\n"
        "assert 'dumps_total 1.0' in text, text\n"
        "print(sorted(m for m in ('click', 'rich', 'jsonschema', 'watchfiles') if m in sys.modules))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "HMS_", "PYTHON"))}
    env.update(HMS_OTEL_HOOKS=str(hooks), OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    done = subprocess.run(
        [str(library_venv / "bin" / "python"), "-c", code],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
