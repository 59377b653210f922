"""Start-up cost of hms_otel, timed as whole processes.

    python benchmarks/bench_startup.py [--runs N] [--upstream DIR]

Cases, run in alternation (round by round) so drift hits them alike, medians
of N runs (default 15), wall clock and CPU time (user + system of the child,
which other processes on a shared machine do not inflate):

- ``import hms_otel`` and ``from hms_otel import metric`` against importing
  the OpenTelemetry API they sit on (``opentelemetry.metrics`` and
  ``opentelemetry._logs``); the "import only" ratio subtracts a bare
  ``python -c pass``;
- ``opentelemetry-instrument python empty.py`` with the HMS distro against
  upstream's ``opentelemetry-distro`` with a matched configuration (OTLP/gRPC
  metrics and logs, no traces, logging bridged, the same instrumentors), and
  against upstream without hms-otel's own instrumentor (``hms_hooks``): what
  switching a service from upstream's distro to this one costs.
  Both export to an OTLP sink in this process, so no exit waits on retries
  to an unreachable collector.
  Upstream's distro is not a dependency: it is installed once with pip into
  ``--upstream`` (default ``~/.cache/hms-ops/bench/opentelemetry-distro-0.66b2``)
  and put on ``PYTHONPATH`` for its runs only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

UPSTREAM_DISTRO = "opentelemetry-distro==0.66b2"
DEFAULT_UPSTREAM = Path.home() / ".cache" / "hms-ops" / "bench" / "opentelemetry-distro-0.66b2"
API_IMPORT = "import opentelemetry.metrics, opentelemetry._logs"
IMPORT_GOAL, DISTRO_GOAL = 1.3, 1.05

# What both distros run with: every setting either distro would default differently.
MATCHED_ENV = {
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_EXPORTER_OTLP_INSECURE": "true",
    "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
}


def _upstream(path: Path) -> Path:
    if not (path / "opentelemetry" / "distro").is_dir():
        print(f"installing {UPSTREAM_DISTRO} into {path} (benchmark baseline only)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(path), UPSTREAM_DISTRO],
            check=True,
        )
    return path


class _Sink(metrics_service_pb2_grpc.MetricsServiceServicer, logs_service_pb2_grpc.LogsServiceServicer):
    """Accepts OTLP metrics and logs and drops them."""

    def Export(self, request: Any, context: Any) -> Any:
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            return metrics_service_pb2.ExportMetricsServiceResponse()
        return logs_service_pb2.ExportLogsServiceResponse()


def _sink() -> tuple[Any, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Sink(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Sink(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"http://127.0.0.1:{port}"


def _run(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall seconds and child CPU seconds of one process, run in ``cwd`` (not
    the source tree, whose ``hms_otel`` would shadow the installed one)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"bench_startup: {' '.join(argv)} failed ({process.returncode}): {stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--upstream", type=Path, default=DEFAULT_UPSTREAM)
    options = parser.parse_args()
    upstream = _upstream(options.upstream)
    instrument = str(Path(sys.executable).with_name("opentelemetry-instrument"))
    # Bytecode is written and reused as in a deployed service (the warm-up run writes it).
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "HMS_", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"))
    }
    server, endpoint = _sink()
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.py"
        empty.write_text("")
        distro_env = {**clean, **MATCHED_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], clean),
            "import OpenTelemetry API": ([sys.executable, "-c", API_IMPORT], clean),
            "import hms_otel": ([sys.executable, "-c", "import hms_otel"], clean),
            "from hms_otel import metric": ([sys.executable, "-c", "from hms_otel import metric"], clean),
            "upstream distro: instrument empty.py": (
                [instrument, sys.executable, str(empty)],
                {
                    **distro_env,
                    "PYTHONPATH": str(upstream),
                    "OTEL_PYTHON_DISTRO": "distro",
                    "OTEL_PYTHON_CONFIGURATOR": "configurator",
                },
            ),
            "upstream distro without hms_hooks": (
                [instrument, sys.executable, str(empty)],
                {
                    **distro_env,
                    "PYTHONPATH": str(upstream),
                    "OTEL_PYTHON_DISTRO": "distro",
                    "OTEL_PYTHON_CONFIGURATOR": "configurator",
                    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "hms_hooks",
                },
            ),
            "HMS distro: instrument empty.py": (
                [instrument, sys.executable, str(empty)],
                {**distro_env, "OTEL_PYTHON_DISTRO": "hms_otel", "OTEL_PYTHON_CONFIGURATOR": "hms_otel"},
            ),
        }
        for argv, env in cases.values():  # warm the file cache and bytecode
            _run(argv, env, tmp)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(options.runs):
            for name, (argv, env) in cases.items():
                samples[name].append(_run(argv, env, tmp))
    server.stop(grace=None)
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}

    print(f"Whole processes, median of {options.runs} alternating runs")
    print(f"{'case':<38} {'wall':>8} {'cpu':>8}")
    for name in cases:
        print(f"{name:<38} {wall[name] * 1e3:>6.0f}ms {cpu[name] * 1e3:>6.0f}ms")

    def ratio(name: str, baseline: str, minus: str | None = None) -> str:
        parts = []
        for label, table in (("wall", wall), ("cpu", cpu)):
            floor = table[minus] if minus else 0.0
            parts.append(f"{label} {(table[name] - floor) / (table[baseline] - floor):.2f}x")
        return ", ".join(parts)

    print("\nratios (goal)")
    for name in ("import hms_otel", "from hms_otel import metric"):
        print(f"{name} / API import, whole process (<= {IMPORT_GOAL}x): {ratio(name, 'import OpenTelemetry API')}")
        print(
            f"{name} / API import, import only (<= {IMPORT_GOAL}x): "
            f"{ratio(name, 'import OpenTelemetry API', 'python -c pass')}"
        )
    print(
        f"HMS distro / upstream distro, matched configuration (<= {DISTRO_GOAL}x): "
        f"{ratio('HMS distro: instrument empty.py', 'upstream distro: instrument empty.py')}"
    )
    print(
        f"HMS distro / upstream distro without hms_hooks (<= {DISTRO_GOAL}x): "
        f"{ratio('HMS distro: instrument empty.py', 'upstream distro without hms_hooks')}"
    )


if __name__ == "__main__":
    main()
