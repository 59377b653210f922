"""Time to check user files (alert, SLO, hook and dashboard files) against their size: linear, and under a
second at the 1 MB limit.

    python benchmarks/bench_file_checks.py [--repeat R]

For each shape (ordinary alerts, a long ``when:``, the shapes that made the old parsers
backtrack, deep nesting, many keys, hook files) it builds the file at 64 kB and at the 1 MB
limit, checks both R times in this process (median), and prints the seconds and the ratio
1 MB / 64 kB. Linear time gives about 16 (less where a file reaches the reader's limit of
values before 1 MB, at which reading stops); a quadratic parser gives about 250. Tests never
assert on time; this is where it is measured.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from opentelemetry.metrics import NoOpMeter

from hms_otel.alerts import spec
from hms_otel.dashboards import spec as dashboard_spec
from hms_otel.errors import ProblemsError
from hms_otel.hooks import engine
from hms_otel.hooks.spec import load as load_hooks
from hms_otel.yamlfile import MAX_BYTES, MAX_NODES

SMALL = 64_000
LARGE = MAX_BYTES - 200


def _repeat(unit: str, size: int, head: str = "", tail: str = "") -> str:
    room = size - len(head) - len(tail)
    return head + unit * max(1, room // len(unit)) + tail


ALERT = "- metric: job_fail_total\n  when: increase_over_5m > 3\n  action: slack:#ops\n  name: a{n}\n"
#: Values (YAML nodes) in one ALERT: the mapping, four keys, four values.
ALERT_NODES = 9
HOOK = "- {target: 'tests.hooks.hook_targets:price', record: [{metric: bench_total, kind: counter}]}\n"
HOOK_NODES = 11


def alerts(size: int) -> str:
    """Valid alerts filling ``size`` bytes, but never more than the reader's value limit allows."""
    count = min(size // len(ALERT.format(n=10_000)), (MAX_NODES - 1000) // ALERT_NODES)
    return "".join(ALERT.format(n=n) for n in range(count))


def hooks(size: int) -> str:
    return HOOK * min(size // len(HOOK), (MAX_NODES - 1000) // HOOK_NODES)


PANEL = "  - {{id: p{n}, title: Panel {n}, kind: lines, query: 'sum(rate(job_fail_total[5m]))'}}\n"
PANEL_NODES = 9


def dashboard(size: int) -> str:
    count = min(size // len(PANEL.format(n=10_000)), (MAX_NODES - 1000) // PANEL_NODES)
    return "page: Overview\npanels:\n" + "".join(PANEL.format(n=n) for n in range(count))


SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    "alerts (valid, up to the value limit)": ("alert", alerts),
    "long when: digits": ("alert", lambda size: _repeat(
        "1", size, "metric: job_fail_total\naction: slack:#ops\nwhen: 'avg_over_", "m > 3'\n")),
    "long when: spaces then junk": ("alert", lambda size: _repeat(
        " ", size, "metric: job_fail_total\naction: slack:#ops\nwhen: 'avg_over_5m", "x'\n")),
    "long when: run of '>' (old: 122 s at 40k)": ("alert", lambda size: _repeat(
        ">", size, "metric: job_fail_total\naction: slack:#ops\nwhen: 'avg_over_", " x'\n")),
    "long when: operators": ("alert", lambda size: _repeat(
        "> ", size, "metric: job_fail_total\naction: slack:#ops\nwhen: 'avg_over_5m ", "'\n")),
    "long when: _over_ repeated": ("alert", lambda size: _repeat(
        "a_over_", size, "metric: job_fail_total\naction: slack:#ops\nwhen: '", "'\n")),
    "long message": ("alert", lambda size: _repeat(
        "{{ x ", size, "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\nmessage: '", "'\n")),
    "flow list of values": ("alert", lambda size: _repeat("x, ", size, "labels: [", "]\n")),
    "deep nesting": ("alert", lambda size: "[" * (size // 2 - 2) + "]" * (size // 2 - 2)),
    "many keys": ("alert", lambda size: _repeat("k: v\n", size).replace("k:", "{}:").format(*range(size))),
    "hooks (valid, up to the value limit)": ("hook", hooks),
    "dashboard (valid, up to the value limit)": ("dashboard", dashboard),
    "dashboard: long query": ("dashboard", lambda size: _repeat(
        "(", size, "page: ACH\npanels:\n  - {id: q, title: q, kind: lines, query: '", "'}\n")),
    "hook sources nested": ("hook", lambda size: _repeat(
        "len(", size, "- {target: 'tests.hooks.hook_targets:price', record: [{metric: bench_h, kind: histogram, "
        "value: '", "arg.item'}]}\n")),
}


def _keys(size: int) -> str:
    out, n = [], 0
    while sum(map(len, out)) < size - 20:
        out.append(f"k{n}: v\n")
        n += 1
    return "".join(out)


SHAPES["many keys"] = ("alert", _keys)


def check(kind: str, text: str) -> None:
    if kind == "alert":
        spec.load_bytes(text.encode(), "bench.yml")
        return
    if kind == "dashboard":
        dashboard_spec.load_bytes(text.encode(), "bench.dashboard.yaml")
        return
    try:
        hooks = load_hooks(text.encode(), "bench.yml")
    except ProblemsError:
        return
    installation, _problems = engine.install_available(hooks, NoOpMeter("bench"), where="bench.yml")
    installation.remove()


def seconds(kind: str, text: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        check(kind, text)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'shape':42} {'64 kB s':>9} {'1 MB s':>9} {'ratio':>7}")
    worst = 0.0
    for name, (kind, build) in SHAPES.items():
        small, large = build(SMALL), build(LARGE)
        assert len(large.encode()) <= MAX_BYTES, (name, len(large.encode()))
        t_small, t_large = seconds(kind, small, args.repeat), seconds(kind, large, args.repeat)
        worst = max(worst, t_large)
        print(f"{name:42} {t_small:9.4f} {t_large:9.4f} {t_large / max(t_small, 1e-6):7.1f}")
    print(f"slowest check of a file at the 1 MB limit: {worst:.3f} s (linear: ratio about {LARGE / SMALL:.0f})")


if __name__ == "__main__":
    main()
