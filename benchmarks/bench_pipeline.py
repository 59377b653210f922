"""Collector + Prometheus throughput and cost: the shipped durable configuration against the same pipeline
without outage durability, side by side in one run.

    python benchmarks/bench_pipeline.py [--rates 10000,20000,40000,80000] [--seconds 15] [--with-wal] [--outage 60]

For each configuration a LocalStack (real hms-otelcol and Prometheus on free ports) is started, and a load
generator process sends OTLP/gRPC requests once a second: half the samples from counters, half from
millisecond histograms (18 bounds: 21 Prometheus samples per point), each level with its own metric names.
Per level it prints, in samples per second:

- offered: what the generator sent;
- accepted / refused: samples in requests the collector acknowledged / refused;
- delivered: samples stored in Prometheus (``count_over_time`` of the level's series, after a drain);
- collector peak RSS (MiB) and CPU seconds while the level ran and drained (the same samples for every
  configuration, so CPU seconds compare directly);

then the ratios shipped / without-durability (delivered throughput, peak RSS, CPU). Configurations:

- ``durable`` (shipped): collector-config/local.yaml; metrics go through a disk-backed spool
  (exporterhelper persistent queue on file_storage) into synchronous remote write;
- ``memory``: the same pipeline remote-writing directly with the exporter's in-memory queue (no outage
  durability); the baseline;
- ``wal`` (``--with-wal``): direct remote write with the exporter's write-ahead log (the previous shipped
  configuration), for reference.

``--outage S`` (default 60; 0 skips) then drives the shipped configuration at the lowest rate, stops
Prometheus for S seconds and starts it again, and prints how many samples were accepted and delivered.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hms_otel.http import HTTPError
from hms_otel.stack import LocalStack
from hms_otel.stack.services import collector_config_path

BOUNDS = [5, 10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 5000, 7500, 10000, 15000, 30000, 60000]
SAMPLES_PER_HISTOGRAM = len(BOUNDS) + 1 + 2  # buckets incl. +Inf, _sum, _count
POINTS_PER_REQUEST = 2000


# -- collector configurations -------------------------------------------------------------------------------


def _config(kind: str, directory: Path) -> Path:
    """The shipped local.yaml, or a variant remote-writing directly (``memory``, ``wal``)."""
    path = collector_config_path("local")
    if kind == "durable":
        return path
    config = yaml.safe_load(path.read_text())
    pipelines = config["service"]["pipelines"]
    pipelines["metrics"]["exporters"] = ["prometheus_remote_write"]
    del pipelines["metrics/remote_write"]
    del config["exporters"]["otlp_http/spool"]
    del config["receivers"]["otlp/spool"]
    exporter = config["exporters"]["prometheus_remote_write"]
    exporter["remote_write_queue"] = {"enabled": True, "queue_size": 10000, "num_consumers": 1}
    exporter["retry_on_failure"] = {
        "enabled": True,
        "initial_interval": "200ms",
        "max_interval": "2s",
        "max_elapsed_time": "10m",
    }
    if kind == "wal":
        exporter["wal"] = {
            "directory": "${env:HMS_COLLECTOR_STORAGE_DIR}",
            "buffer_size": 100,
            "truncate_frequency": "1s",
        }
    out = directory / f"collector-{kind}.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


# -- load generator (a process of its own) -------------------------------------------------------------------


def _generate(
    endpoint: str, prefix: str, samples_per_second: int, seconds: float, results: multiprocessing.Queue
) -> None:
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2

    counters = max(1, samples_per_second // 2)
    histograms = max(1, samples_per_second // 2 // SAMPLES_PER_HISTOGRAM)
    start_ns = time.time_ns()
    resource = resource_pb2.Resource(
        attributes=[
            common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="bench")),
            common_pb2.KeyValue(key="service.instance.id", value=common_pb2.AnyValue(string_value=prefix)),
        ]
    )

    def attrs(i: int) -> list[common_pb2.KeyValue]:
        return [common_pb2.KeyValue(key="series", value=common_pb2.AnyValue(string_value=f"s{i:06d}"))]

    requests: list[tuple[metrics_service_pb2.ExportMetricsServiceRequest, list, list, int]] = []
    for first in range(0, counters, POINTS_PER_REQUEST):
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        metric = request.resource_metrics.add(resource=resource).scope_metrics.add().metrics.add(name=f"{prefix}_c")
        metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
        metric.sum.is_monotonic = True
        for i in range(first, min(counters, first + POINTS_PER_REQUEST)):
            metric.sum.data_points.add(attributes=attrs(i), start_time_unix_nano=start_ns, as_int=0)
        requests.append((request, list(metric.sum.data_points), [], len(metric.sum.data_points)))
    for first in range(0, histograms, POINTS_PER_REQUEST):
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        metric = (
            request.resource_metrics.add(resource=resource)
            .scope_metrics.add()
            .metrics.add(name=f"{prefix}_h", unit="ms")
        )
        metric.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
        for i in range(first, min(histograms, first + POINTS_PER_REQUEST)):
            metric.histogram.data_points.add(
                attributes=attrs(i),
                start_time_unix_nano=start_ns,
                explicit_bounds=BOUNDS,
                bucket_counts=[0] * (len(BOUNDS) + 1),
            )
        points = list(metric.histogram.data_points)
        requests.append((request, [], points, len(points) * SAMPLES_PER_HISTOGRAM))

    stub = metrics_service_pb2_grpc.MetricsServiceStub(
        grpc.insecure_channel(endpoint.removeprefix("http://"), options=[("grpc.max_send_message_length", 64 << 20)])
    )
    offered = accepted = refused = rounds = 0
    began = time.monotonic()
    next_round = began
    while time.monotonic() - began < seconds:
        now_ns = time.time_ns()
        for request, numbers, histos, samples in requests:
            for point in numbers:
                point.time_unix_nano = now_ns
                point.as_int += 1
            for point in histos:
                point.time_unix_nano = now_ns
                point.count += 1
                point.sum += 120.0
                point.bucket_counts[4] += 1
            offered += samples
            try:
                stub.Export(request, timeout=10)
                accepted += samples
            except grpc.RpcError:
                refused += samples
        rounds += 1
        next_round += 1.0
        time.sleep(max(0.0, next_round - time.monotonic()))
    results.put((offered, accepted, refused, time.monotonic() - began, rounds))


# -- measuring the collector ----------------------------------------------------------------------------------


class ProcessSampler:
    """Peak RSS and CPU time of one process, sampled every 0.25 s on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.peak_rss = max(self.peak_rss, self._rss())
            except OSError:
                return

    def __enter__(self) -> ProcessSampler:
        self._cpu_start, self._wall_start = self._cpu(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = self._cpu() - self._cpu_start


@dataclass
class Level:
    rate: int
    offered: float
    accepted: float
    refused: float
    delivered: float
    peak_rss_mib: float
    cpu_seconds: float


def _stored_samples(stack: LocalStack, prefix: str) -> float:
    # One query per series name: count_over_time drops the name, and _sum/_count share their labels.
    names = [f"{prefix}_c", f"{prefix}_h_bucket", f"{prefix}_h_sum", f"{prefix}_h_count"]
    total = 0.0
    for name in names:
        for _ in range(5):  # Prometheus may be too busy ingesting to answer in time
            try:
                total += stack.query_value(f"sum(count_over_time({name}[1h]))") or 0.0
                break
            except HTTPError:
                time.sleep(2)
    return total


def _drain(stack: LocalStack, prefix: str, timeout: float = 60.0) -> float:
    """Stored samples once the count stops growing (the collector and Prometheus caught up)."""
    deadline, last, stable = time.monotonic() + timeout, -1.0, 0
    while time.monotonic() < deadline:
        value = _stored_samples(stack, prefix)
        stable = stable + 1 if value == last else 0
        if stable >= 5:
            break
        last = value
        time.sleep(1.0)
    return last


def run_level(stack: LocalStack, prefix: str, rate: int, seconds: float) -> Level:
    results: multiprocessing.Queue = multiprocessing.Queue()
    generator = multiprocessing.Process(
        target=_generate, args=(stack.otlp_grpc_endpoint, prefix, rate, seconds, results)
    )
    assert stack.collector.pid is not None
    with ProcessSampler(stack.collector.pid) as sampler:
        generator.start()
        offered, accepted, refused, wall, _ = results.get(timeout=seconds + 600)
        generator.join()
        delivered = _drain(stack, prefix)
    rss_mib = sampler.peak_rss / 2**20
    return Level(rate, offered / wall, accepted / wall, refused / wall, delivered / wall, rss_mib, sampler.cpu_seconds)


def run_configurations(
    kinds: list[str], rates: list[int], seconds: float, workdir: Path, durable: Path | None = None
) -> dict[str, list[Level]]:
    """All configurations' stacks up at once, levels interleaved (rate by rate, configuration by
    configuration), so load from elsewhere on the machine hits every configuration alike."""
    stacks = {
        kind: LocalStack(
            workdir / kind,
            collector_config=durable if kind == "durable" and durable else _config(kind, workdir),
            with_victorialogs=False,
            scrape_interval="5s",
        )
        for kind in kinds
    }
    results: dict[str, list[Level]] = {kind: [] for kind in kinds}
    try:
        for stack in stacks.values():
            stack.start()
        time.sleep(2)
        for index, rate in enumerate(rates):
            for kind, stack in stacks.items():
                level = run_level(stack, f"bench_l{index}", rate, seconds)
                print(
                    f"  {kind:8} {rate:>7}/s offered {level.offered:9.0f} accepted {level.accepted:9.0f} "
                    f"refused {level.refused:8.0f} delivered {level.delivered:9.0f} "
                    f"rss {level.peak_rss_mib:6.1f} MiB cpu {level.cpu_seconds:5.1f} s",
                    flush=True,
                )
                results[kind].append(level)
    finally:
        for stack in stacks.values():
            stack.stop()
    return results


def run_outage(rate: int, outage: float, workdir: Path) -> None:
    stack = LocalStack(workdir / "outage", with_victorialogs=False, scrape_interval="5s")
    results: multiprocessing.Queue = multiprocessing.Queue()
    seconds = outage + 30
    with stack:
        generator = multiprocessing.Process(
            target=_generate, args=(stack.otlp_grpc_endpoint, "outage", rate, seconds, results)
        )
        generator.start()
        time.sleep(10)
        stack.stop_prometheus()
        time.sleep(outage)
        stack.start_prometheus()
        _, accepted, refused, _, _ = results.get(timeout=seconds + 600)
        generator.join()
        delivered = _drain(stack, "outage", timeout=180)
    lost = accepted - delivered
    print(
        f"\n{outage:.0f} s Prometheus outage (shipped configuration, {rate}/s): accepted {accepted:.0f} samples, "
        f"refused {refused:.0f}, delivered {delivered:.0f}, lost {lost:.0f} ({lost / max(accepted, 1):.2%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10000,20000,40000,80000", help="samples per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per level")
    parser.add_argument("--with-wal", action="store_true", help="also run the remote-write WAL configuration")
    parser.add_argument("--configs", default="memory,durable", help="configurations to run (memory first)")
    parser.add_argument("--durable-config", type=Path, help="collector config to measure instead of local.yaml")
    parser.add_argument("--outage", type=float, default=60.0, help="Prometheus outage to ride out (0: skip)")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    kinds = args.configs.split(",") + (["wal"] if args.with_wal else [])
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        workdir = Path(tmp)
        results = run_configurations(kinds, rates, args.seconds, workdir, args.durable_config)
        if "memory" not in results:
            return
        print("\nratios to the configuration without durability (memory):")
        print(f"  {'config':8} {'rate':>7}  delivered  accepted  refused/offered  peak RSS  CPU")
        for kind in kinds[1:]:
            for base, level in zip(results["memory"], results[kind], strict=True):
                delivered = level.delivered / max(base.delivered, 1)
                accepted = level.accepted / max(base.accepted, 1)
                refused = level.refused / max(level.offered, 1)
                rss = level.peak_rss_mib / max(base.peak_rss_mib, 1e-9)
                cpu = level.cpu_seconds / max(base.cpu_seconds, 1e-9)
                print(
                    f"  {kind:8} {level.rate:>7}  {delivered:9.2f}  {accepted:8.2f}  {refused:15.2%}  "
                    f"{rss:8.2f}  {cpu:4.2f}"
                )
            throughput = max(x.delivered for x in results[kind]) / max(max(x.delivered for x in results["memory"]), 1)
            memory = max(x.peak_rss_mib for x in results[kind]) / max(x.peak_rss_mib for x in results["memory"])
            print(
                f"  {kind:8} saturation throughput ratio (max delivered): {throughput:.2f}; "
                f"max peak RSS ratio: {memory:.2f}"
            )
        if args.outage > 0:
            run_outage(rates[0], args.outage, workdir)


if __name__ == "__main__":
    main()
