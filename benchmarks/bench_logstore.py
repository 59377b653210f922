"""The log store: search time on 100k records, memory at rest, the whole stack's memory, install time.

    python benchmarks/bench_logstore.py [--records 100000] [--install]

1. VictoriaLogs alone (the binary `hms-ops install` builds): RSS at rest when fresh; then RECORDS records
   (5 services, 5 layers, 4 levels, spread over the last hour) ingested over OTLP as the collector sends
   them; RSS at rest again.
2. `hms-ops logs search` on them, median of 5 runs each, as the whole command (a new process) and as the
   query alone (hms_otel.logstore in this process); the baseline is `hms-ops --version` (the command's
   fixed start-up cost), so the ratio shows what searching adds.
3. The whole local stack (collector, Prometheus, Alertmanager, VictoriaLogs) at rest: RSS per process.
4. With --install: `hms-ops install victoria-logs` into an empty cache with an empty Go build cache (the
   module download cache stays warm; a machine that never fetched the module adds its download).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from hms_otel.logstore import LogStore
from hms_otel.stack import LocalStack, builds
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import VictoriaLogs

HMS_OPS = Path(sys.executable).with_name("hms-ops")
SERVICES = ("payments", "renewals", "envelopes", "workers", "compliance")
LAYERS = ("ACH", "SVC", "A2A", "ACT", "ESQ")
LEVELS = (("info", 9), ("warn", 13), ("error", 17), ("debug", 5))
WORDS = "payment batch envelope job check timed out accepted refused retried queued cleared agency".split()


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _kv(values: dict[str, str]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v)) for k, v in values.items()]


def ingest(url: str, records: int, batch: int = 5000) -> None:
    now = time.time_ns()
    span = 3600 * 10**9
    for start in range(0, records, batch):
        by_service: dict[int, list[logs_pb2.LogRecord]] = {}
        for i in range(start, min(records, start + batch)):
            level, number = LEVELS[i % len(LEVELS)]
            words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6))
            by_service.setdefault(i % len(SERVICES), []).append(
                logs_pb2.LogRecord(
                    time_unix_nano=now - span + span * i // records,
                    severity_number=number,
                    body=common_pb2.AnyValue(string_value=f"record {i}: {words}"),
                    attributes=_kv({"level": level, "order_id": f"ORD-{i:07d}"}),
                )
            )
        request = logs_service_pb2.ExportLogsServiceRequest(
            resource_logs=[
                logs_pb2.ResourceLogs(
                    resource=resource_pb2.Resource(
                        attributes=_kv({"service.name": SERVICES[s], "hms.layer": LAYERS[s]})
                    ),
                    scope_logs=[logs_pb2.ScopeLogs(log_records=logs)],
                )
                for s, logs in by_service.items()
            ]
        )
        post = urllib.request.Request(
            url + "/insert/opentelemetry/v1/logs",
            data=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", "VL-Stream-Fields": "service.name,hms.layer,level"},
            method="POST",
        )
        urllib.request.urlopen(post, timeout=60).read()
    urllib.request.urlopen(url + "/internal/force_flush", timeout=60).read()


def median_seconds(run, times: int = 5) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def search_section(records: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store_proc = VictoriaLogs(Path(tmp) / "vl", free_port())
        store_proc.start()
        try:
            time.sleep(5)
            fresh = rss_mib(store_proc.pid)
            started = time.perf_counter()
            ingest(store_proc.url, records)
            took = time.perf_counter() - started
            store = LogStore(store_proc.url)
            total = store.count("*")
            print(f"ingested {total} records in {took:.1f} s ({total / took:.0f} records/s over OTLP)")
            time.sleep(15)  # background merges settle
            loaded = rss_mib(store_proc.pid)
            time.sleep(45)
            later = rss_mib(store_proc.pid)
            print(
                f"VictoriaLogs RSS at rest: {fresh:.1f} MiB fresh; holding {total} records {loaded:.1f} MiB after "
                f"15 s, {later:.1f} MiB after 60 s (target <= 30 MiB)"
            )
            hour = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)

            def cli(*args: str) -> None:
                subprocess.run([str(HMS_OPS), *args], check=True, capture_output=True, timeout=60)

            baseline = median_seconds(lambda: cli("--version"))
            print(f"\nbaseline `hms-ops --version`: {baseline * 1000:.0f} ms")
            print(f"{'search (limit 50)':<46}{'command':>10}{'ratio':>8}{'query':>10}")
            cases = [
                ("text", ("timed out",), {"text": "timed out"}),
                (
                    "service + level",
                    ("--service", "payments", "--level", "error"),
                    {"service": "payments", "level": "error"},
                ),
                (
                    "layer + text, 2 h",
                    ("refused", "--layer", "A2A", "--since", "2h"),
                    {"text": "refused", "layer": "A2A"},
                ),
                ("attribute (LogsQL)", ("--logsql", "order_id:=ORD-0012345"), {"logsql": "order_id:=ORD-0012345"}),
            ]
            for name, args, kwargs in cases:
                command = median_seconds(
                    lambda args=args: cli("logs", "--url", store_proc.url, "search", *args, "--since", "2h", "--json")
                )
                query = median_seconds(lambda kwargs=kwargs: store.search(start=hour, limit=50, **kwargs), times=10)
                print(f"{name:<46}{command * 1000:>8.0f}ms{command / baseline:>7.2f}x{query * 1000:>8.1f}ms")
        finally:
            store_proc.stop()


def stack_section() -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp) / "stack") as stack:
        time.sleep(15)
        rows = [
            ("collector", stack.collector.pid),
            ("Prometheus", stack.prometheus.pid),
            ("Alertmanager", stack.alertmanager.pid),
            ("VictoriaLogs", stack.victorialogs.pid if stack.victorialogs else None),
        ]
        print("\nstack at rest (15 s after start), RSS:")
        total = 0.0
        for name, pid in rows:
            value = rss_mib(pid)
            total += value
            print(f"  {name:<14}{value:7.1f} MiB")
        print(f"  {'total':<14}{total:7.1f} MiB")


def install_section() -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as gocache:
        os.environ["HMS_OPS_CACHE"] = cache
        os.environ["GOCACHE"] = gocache
        started = time.perf_counter()
        builds.build_victorialogs(progress=lambda _: None)
        print(
            f"\n`hms-ops install victoria-logs`, empty cache and Go build cache: {time.perf_counter() - started:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--install", action="store_true", help="also time a cold VictoriaLogs build")
    args = parser.parse_args()
    search_section(args.records)
    stack_section()
    if args.install:
        install_section()


if __name__ == "__main__":
    main()
