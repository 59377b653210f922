"""The notifier's journal: time per alert when a webhook request of many alerts is journaled with one fsync
of its log (group commit, what the notifier does), with one fsync of the log per alert, and as it was journaled
before the log (each entry file written, fsynced, and its folder fsynced: two fsyncs per alert).

    python benchmarks/bench_notifier_journal.py [--alerts 2000] [--dir /var/lib/somewhere]

Both in this process, on a fresh journal folder each (under --dir: the disk the notifier's state is on; fsync
costs what that disk costs). Prints ms per alert for each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from hms_otel.notify.alert import AlertEvent, parse_webhook
from hms_otel.notify.journal import Entry, Journal, delivery_key


def alerts(count: int, prefix: str) -> list[AlertEvent]:
    return parse_webhook({"alerts": [{"labels": {"alertname": f"a{index}", "severity": "critical"},
                                      "fingerprint": f"{prefix}{index}"} for index in range(count)]})


def before_the_log_ms(folder: Path, events: list[AlertEvent]) -> float:
    """The journal before its log, for comparison: an atomic, fsynced file per alert, then its folder's fsync."""
    folder.mkdir()
    started = time.perf_counter()
    for event in events:
        key = delivery_key("sms", "+15551234", event)
        entry = Entry(key, "sms", "+15551234", event.__dict__ | {"labels": dict(event.labels)}, time.time())
        temporary = folder / f".tmp-{key}"
        with temporary.open("wb") as stream:
            stream.write(json.dumps(entry.__dict__, default=str).encode())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, folder / f"{key}.json")
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return (time.perf_counter() - started) / len(events) * 1000


def per_alert_ms(folder: Path, events: list[AlertEvent], one_request: bool) -> float:
    journal = Journal(folder)
    started = time.perf_counter()
    if one_request:
        journal.add_all("sms", "+15551234", events)
    else:
        for event in events:  # a group of one each: an fsync per alert
            journal.add_all("sms", "+15551234", [event])
    took = time.perf_counter() - started
    journal.close()
    return took / len(events) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="where the journal folders go (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        grouped = per_alert_ms(Path(scratch) / "grouped", alerts(args.alerts, "g"), one_request=True)
        single = per_alert_ms(Path(scratch) / "single", alerts(args.alerts, "s"), one_request=False)
        before = before_the_log_ms(Path(scratch) / "before", alerts(args.alerts, "b"))
    print(f"{args.alerts} alerts in one request, one fsync of the log: {grouped:.3f} ms/alert")
    print(f"one fsync of the log per alert:              {single:.3f} ms/alert ({single / grouped:.1f}x)")
    print(f"before the log (file and folder fsynced):    {before:.3f} ms/alert ({before / grouped:.1f}x)")


if __name__ == "__main__":
    main()
