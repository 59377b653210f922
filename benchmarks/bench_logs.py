"""Logs from one Python process through the real collector into VictoriaLogs: throughput, loss, lag.

    python benchmarks/bench_logs.py [--seconds 10]

Starts a LocalStack (free ports, collector-config/local.yaml) and runs
benchmarks/apps/log_flood.py under `opentelemetry-instrument`:

1. flood, SDK defaults (OTEL_BLRP_MAX_QUEUE_SIZE=2048, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=512): the baseline;
2. flood, HMS defaults (16384 / 2048);
3. HMS defaults at 70 % of the records/s measured in 2: nothing may be lost below capacity.

For each: records emitted, stored in VictoriaLogs, lost, counted as dropped by the app
(hms_otel_log_records_dropped_total), emitted/s and stored/s; ratios against the baseline.
Then the lag: how long after `metric.log` a record is found by a search, with the stack's
default intervals (SDK batch delay 1 s), median of 10. Numbers vary between machines and load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hms_otel.logstore import LogStore
from hms_otel.stack import LocalStack

HERE = Path(__file__).resolve().parent
INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")


def app_env(stack: LocalStack, service: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HMS_"))}
    env.update(stack.env())
    env.update(OTEL_SERVICE_NAME=service, HMS_OTEL_SHUTDOWN_TIMEOUT="60", **extra)
    return env


def stored(store: LogStore, service: str) -> int:
    return store.count(f'{{"service.name"="{service}"}}')


def settle(store: LogStore, service: str, expected: int, timeout: float = 120) -> tuple[int, float]:
    """Stored count once it reaches ``expected`` or stops growing for 5 s; and when the last record arrived."""
    last, last_change, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = stored(store, service)
        if now != last:
            last, last_change = now, time.monotonic()
        if now >= expected or time.monotonic() - last_change > 5:
            return now, last_change
        time.sleep(0.25)
    return last, last_change


def flood(stack: LocalStack, label: str, seconds: float, rate: float, **env: str) -> dict[str, float]:
    store = LogStore(stack.victorialogs_url)
    service = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(HERE / "apps" / "log_flood.py"), str(seconds), str(rate)],
        env=app_env(stack, service, **env),
        capture_output=True,
        text=True,
        timeout=seconds + 180,
    )
    if done.returncode != 0:
        raise SystemExit(f"{label}: the app failed:\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    count, arrived_at = settle(store, service, report["emitted"])
    arrived_wall = time.time() - (time.monotonic() - arrived_at)  # when the last record was seen
    dropped = sum(report["dropped"].values())
    return {
        "emitted": report["emitted"],
        "stored": count,
        "lost": report["emitted"] - count,
        "counted": dropped,
        "emitted/s": report["emitted"] / report["seconds"],
        # From the app's first record to the last one seen in the store.
        "stored/s": count / max(0.001, arrived_wall - report["started"]),
    }


def lag(stack: LocalStack, samples: int = 10) -> list[float]:
    """Seconds from metric.log to a search finding the record (SDK batch delay 1 s, collector flush 200 ms)."""
    store = LogStore(stack.victorialogs_url)
    code = (
        "import sys, time\nfrom hms_otel import metric\n"
        "for marker in sys.argv[1:]:\n"
        "    print(time.time(), flush=True); metric.log(marker); sys.stdin.readline()\n"
    )
    markers = [f"lag{uuid.uuid4().hex[:10]}" for _ in range(samples)]
    env = app_env(stack, "bench-lag")
    env.pop("OTEL_BLRP_SCHEDULE_DELAY", None)  # the default, 1000 ms
    proc = subprocess.Popen(
        [str(INSTRUMENT), sys.executable, "-c", code, *markers],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout
    lags = []
    for marker in markers:
        emitted = float(proc.stdout.readline())
        while not store.search(marker, service="bench-lag", limit=1):
            time.sleep(0.05)
        lags.append(time.time() - emitted)
        proc.stdin.write("\n")
        proc.stdin.flush()
    proc.communicate(timeout=60)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp) / "stack") as stack:
        sdk_defaults = {"OTEL_BLRP_MAX_QUEUE_SIZE": "2048", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "512"}
        baseline = flood(stack, "sdk", args.seconds, 0, **sdk_defaults)
        hms = flood(stack, "hms", args.seconds, 0)
        paced = flood(stack, "paced", args.seconds, 0.7 * hms["stored/s"])
        print(f"{'run':<32}{'emitted':>9}{'stored':>9}{'lost':>8}{'counted':>9}{'emitted/s':>11}{'stored/s':>10}")
        for name, row in (
            ("flood, SDK defaults (baseline)", baseline),
            ("flood, HMS defaults", hms),
            (f"HMS at {0.7 * hms['stored/s']:.0f}/s (70 % of capacity)", paced),
        ):
            print(
                f"{name:<32}{row['emitted']:>9.0f}{row['stored']:>9.0f}{row['lost']:>8.0f}{row['counted']:>9.0f}"
                f"{row['emitted/s']:>11.0f}{row['stored/s']:>10.0f}"
            )
        def loss(row: dict[str, float]) -> str:
            return f"{row['lost'] / max(1, row['emitted']):.1%}"

        print(
            f"HMS / baseline: stored/s {hms['stored/s'] / baseline['stored/s']:.2f}x, loss {loss(hms)} vs "
            f"{loss(baseline)}; lost but not counted: baseline {baseline['lost'] - baseline['counted']:.0f}, "
            f"HMS {hms['lost'] - hms['counted']:.0f}, paced {paced['lost'] - paced['counted']:.0f}"
        )
        lags = lag(stack)
        print(
            f"lag metric.log -> searchable: median {statistics.median(lags):.2f} s, max {max(lags):.2f} s "
            f"(10 records, default intervals)"
        )


if __name__ == "__main__":
    main()
