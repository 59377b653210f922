"""How long a page takes: from the moment the tutorial's rule is true in a service's data to the
notifier's console SMS, with the `hms-ops up` defaults, next to the floor.

    python benchmarks/bench_alert_latency.py [--runs 3] [--export-interval-ms 1000] [--for 30s] [--no-baseline]

Each run starts a fresh local stack (collector-config/local.yaml, Prometheus, Alertmanager, the
notifier, VictoriaLogs: the SMS carries the probable source) with `hms-ops up`'s scrape and
evaluation intervals and the shipped alert files compiled with the per-severity timing (critical:
group_wait 0s), runs a service whose payments step from 50 ms to 3 s (logging the cause), and
times ``CROSSED`` (the service's own 30 s average passes 2 s) to the
``Probable source:`` line of the ``[HMS-OPS] ALERT – payment_latency_ms`` message in the notifier's
console log (the whole message is printed at once).

Floor = SDK export interval + collector batch timeout + evaluation interval + group_wait: each stage
can hold the data up to one interval. The baseline runs the same in this process with the previous
defaults (evaluation 5 s, group_wait 10 s) and the ratio new/baseline is printed. ``--for D`` adds
``for: D`` to the tutorial alert (the goal is then D + 10 s).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hms_otel.alerts import rebuild
from hms_otel.stack import LocalStack
from hms_otel.stack.cli import EVALUATION_INTERVAL, SCRAPE_INTERVAL
from hms_otel.stack.services import collector_config_path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = re.compile(r"^\[HMS-OPS\] ALERT – payment_latency_ms .*\n.*\n?Probable source: ", re.M)


def _seconds(duration: str) -> float:
    return float(duration[:-2]) / 1000 if duration.endswith("ms") else float(duration.rstrip("s"))


def batch_timeout_s() -> float:
    config = yaml.safe_load(collector_config_path("local").read_text())
    return _seconds(str(config["processors"]["batch"]["timeout"]))


def alert_dir(work: Path, for_: str | None) -> Path:
    """The shipped alert files; with ``for_``, the tutorial alert holds that long before firing."""
    if not for_:
        return ROOT / "alert_rules"
    target = work / "alert_rules"
    shutil.copytree(ROOT / "alert_rules", target)
    tutorial = target / "payment_latency_high.yml"
    tutorial.write_text(tutorial.read_text() + f"for:      {for_}\n")
    return target


def one_run(export_ms: int, evaluation: str, group_wait: str | None, for_: str | None) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-alert-") as work:
        stack = LocalStack(Path(work), scrape_interval=SCRAPE_INTERVAL,
                           evaluation_interval=evaluation).start()
        try:
            changes = {"group_wait": group_wait} if group_wait else {}
            report = rebuild(alert_dir(Path(work), for_), stack.rules_dir / "hms-alerts.yml",
                             stack.alertmanager_config_path, settings=stack.alert_settings(**changes),
                             reload_prometheus=stack.prometheus.reload_outcome,
                             reload_alertmanager=stack.alertmanager.reload_outcome, echo=lambda *_: None)
            assert report.ok, report.problems
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HMS_"))}
            env.update(stack.env(), OTEL_SERVICE_NAME="bench-payments", OTEL_METRIC_EXPORT_INTERVAL=str(export_ms),
                       PYTHONUNBUFFERED="1")
            instrument = Path(sys.executable).with_name("opentelemetry-instrument")
            app = subprocess.Popen([str(instrument), sys.executable, str(ROOT / "benchmarks" / "step_app.py"),
                                    "0.05", "3", "8"], env=env, stdout=subprocess.PIPE, text=True)
            try:
                crossed = None
                assert app.stdout is not None
                for line in app.stdout:
                    if line.startswith("CROSSED"):
                        crossed = float(line.split()[1])
                        break
                assert crossed is not None, "the service never crossed 2 s"
                assert stack.notifier is not None
                log = stack.notifier.log_path
                deadline = time.time() + 180
                while time.time() < deadline:
                    if HEADLINE.search(log.read_text(errors="replace")):
                        return time.time() - crossed
                    time.sleep(0.02)
                raise TimeoutError("no console SMS within 180 s")
            finally:
                app.kill()
                app.wait()
        finally:
            stack.stop()


def series(label: str, runs: int, export_ms: int, evaluation: str, group_wait: str | None, for_: str | None
           ) -> float:
    times = [one_run(export_ms, evaluation, group_wait, for_) for _ in range(runs)]
    floor = export_ms / 1000 + batch_timeout_s() + _seconds(evaluation) + _seconds(group_wait or "0s")
    if for_:
        floor += _seconds(for_)
        label += f", for: {for_}"
    median = statistics.median(times)
    print(f"{label}: median {median:.1f} s over {runs} runs ({', '.join(f'{t:.1f}' for t in times)} s); "
          f"floor {floor:.1f} s = export {export_ms / 1000:g} s + batch {batch_timeout_s():g} s + "
          f"evaluation {evaluation} + group_wait {group_wait or '0s'}", flush=True)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--export-interval-ms", type=int, default=1000,
                        help="the service's OTEL_METRIC_EXPORT_INTERVAL (hms-ops up --demo uses 1000)")
    parser.add_argument("--for", dest="for_", help="add `for:` to the tutorial alert, e.g. 30s")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    now = series(f"hms-ops up defaults (evaluation {EVALUATION_INTERVAL}, critical group_wait 0s)", args.runs,
                 args.export_interval_ms, EVALUATION_INTERVAL, None, args.for_)
    if not args.no_baseline:
        before = series("baseline: previous defaults (evaluation 5s, group_wait 10s)", args.runs,
                        args.export_interval_ms, "5s", "10s", args.for_)
        print(f"ratio new/baseline: {now / before:.2f}")


if __name__ == "__main__":
    main()
