"""`hms-ops up --detach` to ready, against the floor: the same servers started by hand, in parallel.

    python benchmarks/bench_up.py [--runs 5] [--hms-ops PATH] [--no-logs] [--no-alerts]

Each run, side by side on free ports with fresh state folders:

- floor: the benchmark writes the stack's configs (untimed), then launches the
  same binaries with the same arguments at once and probes every health URL
  every 5 ms, with the probe ``up`` uses, until all answer;
- up: ``hms-ops up --detach`` in a folder holding the tutorial's alert file,
  from launching the command until it returns (it returns once every server
  is ready; the alerts are compiled and loaded right after, in a child
  process); then ``hms-ops down``.

Prints both medians and their ratio (target: at most 1.2), the median of the
per-run difference and ratio (the floor itself moves most between runs), the part of ``up``
spent from launching the servers to ready (what it prints), and the resident
memory (VmRSS) of the resting supervisor (target: at most 25 MiB). Use the
``hms-ops`` of a wheel install (``--hms-ops``) for the product figure.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hms_otel.http import ok as http_ok
from hms_otel.stack import LocalStack, Ports, state

TUTORIAL_ALERT = """\
metric:   payment_latency_ms
when:     avg_over_30s > 2000   # ms
action:   sms:+15551234
message:  "Payment latency {{value}} ms (>2 s)"
"""


def _answers(url: str, headers: dict[str, str]) -> bool:
    return http_ok(url, timeout=0.5, headers=headers)  # the probe `up` uses, so neither side probes cheaper


def floor_once(workdir: Path, with_logs: bool) -> float:
    stack = LocalStack(workdir, Ports.free(), scrape_interval="5s", evaluation_interval="1s",
                       with_victorialogs=with_logs)
    plans = []
    for service in stack.services:
        process = service.prepare()  # configs written here, outside the timing
        plans.append((process, (service.health_url, process.ready_headers or {})))
    procs: list[subprocess.Popen[bytes]] = []
    began = time.perf_counter()
    try:
        for process, _url in plans:
            log = process.log_path.open("ab")
            procs.append(subprocess.Popen(process.argv, stdout=log, stderr=subprocess.STDOUT, cwd=process.cwd,
                                          env={**os.environ, **(process.env or {})}, start_new_session=True))
        pending = [probe for _process, probe in plans]
        while pending:
            pending = [(url, headers) for url, headers in pending if not _answers(url, headers)]
            if pending:
                time.sleep(0.005)
        return time.perf_counter() - began
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def up_once(hms_ops: str, folder: Path, with_logs: bool, with_alerts: bool, rss: list[float],
            inner: list[float]) -> float:
    folder.mkdir(parents=True)
    if with_alerts:
        (folder / "alerts").mkdir()
        (folder / "alerts" / "payment_latency.yaml").write_text(TUTORIAL_ALERT)
    ports = Ports.free()
    argv = [hms_ops, "up", "--detach"] + ([] if with_logs else ["--no-logs"])
    argv += ports.as_options()
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    try:
        if done.returncode != 0:
            sys.exit(f"hms-ops up failed:\n{done.stdout}{done.stderr}")
        inner.append(float(re.search(r"ready in ([0-9.]+) s", done.stdout).group(1)))  # type: ignore[union-attr]
        recorded = state.read(folder / ".hms-ops")
        assert recorded is not None
        console = folder / ".hms-ops" / state.CONSOLE_LOG
        deadline = time.monotonic() + 60
        while with_alerts and "alerts: loaded" not in console.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1 if with_alerts else 3)  # at rest: the first alert build is over, the supervisor only polls
        status = Path(f"/proc/{recorded.supervisor.pid}/status").read_text()
        rss.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024)
    finally:
        subprocess.run([hms_ops, "down"], cwd=folder, capture_output=True, timeout=120)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hms-ops", default=str(Path(sys.executable).with_name("hms-ops")))
    parser.add_argument("--no-logs", action="store_true", help="both sides without the log store")
    parser.add_argument("--no-alerts", action="store_true", help="run `up` in a folder without alerts/")
    args = parser.parse_args()
    with_logs = not args.no_logs
    floors, ups, rss, inner = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        for run in range(args.runs):  # alternate, so load on the shared machine hits both alike
            floors.append(floor_once(Path(tmp) / f"floor-{run}", with_logs))
            ups.append(up_once(args.hms_ops, Path(tmp) / f"up-{run}", with_logs, not args.no_alerts, rss, inner))
            print(f"run {run + 1}: floor {floors[-1]:.3f} s, hms-ops up --detach {ups[-1]:.3f} s "
                  f"(its servers: {inner[-1]:.2f} s)", flush=True)
    floor, up = statistics.median(floors), statistics.median(ups)
    print(f"hms-ops: {args.hms_ops}")
    print(f"floor (same servers by hand, in parallel): median {floor:.3f} s over {args.runs} runs")
    print(f"hms-ops up --detach to ready:              median {up:.3f} s over {args.runs} runs")
    print(f"ratio up/floor: {up / floor:.2f} (target <= 1.20)")
    pairs = list(zip(floors, ups, strict=True))
    print(f"  per run: up - floor median {statistics.median(u - f for f, u in pairs) * 1000:.0f} ms, "
          f"up / floor median {statistics.median(u / f for f, u in pairs):.2f} "
          "(the floor moves most from run to run)")
    print(f"  of which launch-to-ready inside up (as it prints 'ready in'): median {statistics.median(inner):.2f} s; "
          "the rest is Python start-up, imports and config writing")
    print(f"supervisor RSS at rest: median {statistics.median(rss):.1f} MiB (target <= 25 MiB)")


if __name__ == "__main__":
    main()
