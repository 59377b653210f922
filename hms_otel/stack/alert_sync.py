"""One rebuild of what ``hms-ops up`` derives from the alert folder, run as a short-lived child process.

The supervisor only notices that an alert file changed (a cheap poll of
modification times, :class:`AlertFolder`); compiling and checking the alerts
(promtool, amtool), the recorded latency series, the channel report and the
dashboard happen here, in a process that exits, so the resting supervisor never
holds the compiler, the notifier settings or the dashboard builder in memory.
The supervisor reloads Alertmanager and Prometheus itself afterwards (it holds
their processes: Prometheus reloads by SIGHUP).

Exit status: 0 when a file the servers read changed (reload them), 3 when
nothing changed, 1 when the alert files have errors (the previous rules stay).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Alert file suffixes the compiler reads.
SUFFIXES = (".yml", ".yaml")
CHANGED, UNCHANGED, FAILED = 0, 3, 1


class AlertFolder:
    """The alert folder ``hms-ops up`` watches; ``changed()`` is true after any file was added, edited or removed.

    A poll of a few ``stat`` calls: no file-watching library stays loaded in the supervisor.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._signature()

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        for root, _dirs, names in os.walk(self.path):
            for name in names:
                if name.endswith(SUFFIXES) and not name.startswith("."):
                    path = os.path.join(root, name)
                    try:
                        info = os.stat(path)
                    except OSError:
                        continue
                    found.append((path, info.st_mtime_ns, info.st_size))
        return tuple(sorted(found))

    def changed(self) -> bool:
        now = self._signature()
        if now == self._seen:
            return False
        self._seen = now
        return True


def _echo(text: str, is_error: bool) -> None:
    from hms_otel.terminal import safe_text

    print("alerts: " + safe_text(text), file=sys.stderr if is_error else sys.stdout, flush=True)


def _channels(alert_dir: Path) -> None:
    """Say which channels of the alert files are live and which only print on the console."""
    from hms_otel.notify.cli import notified_actions
    from hms_otel.notify.config import ConfigError, load
    from hms_otel.notify.server import channel_report

    try:
        config = load(None, read_token=False)
    except ConfigError as error:
        _echo(f"notifier settings: {error}", True)
        return
    for line in channel_report(config, notified_actions(alert_dir)):
        print(f"channel {line}", flush=True)


def _dashboard(args: argparse.Namespace, alert_dir: Path | None) -> None:
    from hms_otel.dashboards.publish import DashboardPublisher
    from hms_otel.dashboards.site import Links
    from hms_otel.stack.builds import MissingBinary

    def say(text: str, is_error: bool) -> None:
        print(text, file=sys.stderr if is_error else sys.stdout, flush=True)

    links = Links(alertmanager=args.alertmanager_url or None, logs=args.logs_url or None)
    publisher = DashboardPublisher(Path(args.dashboard_dir), alert_dir or Path(os.devnull), links, say)
    try:
        publisher.publish()
    except MissingBinary as error:
        if args.first:
            say(f"no dashboard: {error}", True)


def sync(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from hms_otel.alerts.compiler import load_dir
    from hms_otel.alerts.settings import Settings, SettingsError
    from hms_otel.alerts.watcher import rebuild
    from hms_otel.stack.recorded import FILE_NAME, write_recording_rules

    alert_dir = Path(args.alerts) if args.alerts else None
    rules = Path(args.rules)
    files = load_dir(alert_dir)[0] if alert_dir is not None else []  # problems are reported by rebuild
    metrics = [alert.metric for source in files for alert in source.alerts]
    metrics += [slo.metric for source in files for slo in source.slos]
    changed = write_recording_rules(rules.parent / FILE_NAME, metrics)
    outcome = CHANGED if changed or args.first else UNCHANGED
    if alert_dir is not None:
        try:
            settings = replace(Settings.from_env(), notifier_url=args.notifier_url,
                               notifier_token_file=args.notifier_token_file)
        except SettingsError as error:
            _echo(str(error), True)
            return FAILED
        report = rebuild(alert_dir, rules, Path(args.alertmanager_yml), settings=settings, force=False, echo=_echo)
        if not report.ok:
            return FAILED
        if report.written:
            outcome = CHANGED
        count = sum(len(source.alerts) + 2 * len(source.slos) for source in files)
        if outcome == CHANGED:
            _echo(f"{count} alert{'s' if count != 1 else ''} from {alert_dir} compiled", False)
        if args.first and args.notifier_url:
            _channels(alert_dir)
    if args.dashboard_dir:
        _dashboard(args, alert_dir)
    return outcome


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hms_otel.stack.alert_sync", description=__doc__)
    parser.add_argument("--alerts", help="the alert folder (none: only the registry's recorded series)")
    parser.add_argument("--rules", required=True, help="Prometheus rule file for the compiled alerts")
    parser.add_argument("--alertmanager-yml", required=True)
    parser.add_argument("--notifier-url", default="")
    parser.add_argument("--notifier-token-file", default="")
    parser.add_argument("--dashboard-dir", default="")
    parser.add_argument("--alertmanager-url", default="")
    parser.add_argument("--logs-url", default="")
    parser.add_argument("--first", action="store_true", help="the stack's first build: always reload, report channels")
    return sync(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
