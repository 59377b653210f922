"""One rebuild of what ``hms-ops up`` derives from the alert folder, run as a short-lived child process.

The supervisor only notices that an alert file changed
(:mod:`hms_otel.alerts.folder`, a poll of a few ``stat`` calls); compiling and checking the alerts
(promtool, amtool), the recorded latency series, the channel report and the
dashboard happen here, in a process that exits, so the resting supervisor never
holds the compiler, the notifier settings or the dashboard builder in memory.
When a file the servers read changed, this process also reloads Alertmanager
and Prometheus (by SIGHUP), finding them in the stack's state file: the
supervisor then never loads an HTTP client (urllib brings http.client, email,
ssl and OpenSSL, about 4 MiB of its memory at rest).

Exit status: 0 when a file the servers read changed and both reloaded, 3 when
nothing changed, 1 when the alert files have errors (the previous rules stay),
4 when the files changed while compiling (nothing written: build again), 5 when
an output could not be written (e.g. a full disk: try again later), 6 when a
server did not take the new files (it says why), 7 when a server did not answer
while asked to reload (stopped or busy: ask again later).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Exit statuses, read by the supervisor (hms_otel.stack.lifecycle).
CHANGED, FAILED, UNCHANGED, STALE, UNWRITTEN, NOT_RELOADED, RELOAD_LATER = 0, 1, 3, 4, 5, 6, 7


#: The errors this build said (not its warnings), for what ``hms-ops status`` shows.
_errors: list[str] = []


def _echo(text: str, is_error: bool) -> None:
    from hms_otel.terminal import safe_text

    if is_error and ": warning: " not in text:
        _errors.append(text)
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
    from hms_otel.errors import os_error_text
    from hms_otel.outputs import OutputRefused
    from hms_otel.stack.builds import MissingBinary

    def say(text: str, is_error: bool) -> None:
        print(text, file=sys.stderr if is_error else sys.stdout, flush=True)

    # No login in the link: the page holds no credentials; the browser asks for the one `up` prints.
    links = Links(alertmanager=args.alertmanager_url + "/#/alerts" if args.alertmanager_url else None,
                  logs=args.logs_url or None)
    journal = Path(args.notifier_journal) if args.notifier_journal else None
    publisher = DashboardPublisher(Path(args.dashboard_dir), alert_dir or Path(os.devnull), links, say, journal)
    try:
        publisher.publish()
    except MissingBinary as error:
        if args.first:
            say(f"no dashboard: {error}", True)
    except OutputRefused as error:  # a pipe or folder where a page file goes: nothing was written
        say(f"no dashboard: {error}", True)
    except OSError as error:  # a full disk: the page keeps its last files
        say(f"no dashboard: {os_error_text(error)}", True)


def sync(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from hms_otel.alerts.compiler import load_dir
    from hms_otel.alerts.folder import Snapshot, unchanged_since
    from hms_otel.alerts.settings import Settings, SettingsError
    from hms_otel.alerts.watcher import rebuild, what_stays
    from hms_otel.errors import os_error_reason
    from hms_otel.stack.recorded import FILE_NAME, write_recording_rules

    alert_dir = Path(args.alerts) if args.alerts and Path(args.alerts).is_dir() else None
    rules = Path(args.rules)
    # Taken before anything is read: a file saved during this build makes it stale (nothing written).
    snapshot = Snapshot.take(alert_dir) if alert_dir is not None else None
    files = load_dir(alert_dir)[0] if alert_dir is not None else []  # problems are reported by rebuild
    metrics = [alert.metric for source in files for alert in source.alerts]
    metrics += [slo.metric for source in files for slo in source.slos]
    changed = bool(args.first)
    report = None
    alerts_ok = True
    if alert_dir is not None and snapshot is not None:
        try:
            settings = replace(Settings.from_env(), notifier_url=args.notifier_url,
                               notifier_token_file=args.notifier_token_file)
        except SettingsError as error:
            _echo(str(error), True)
            alerts_ok = False
        else:
            # The stack's own outputs: removing the last alert file removes its rules (they could page for ever).
            report = rebuild(alert_dir, rules, Path(args.alertmanager_yml), settings=settings, force=False,
                             echo=_echo, still_current=unchanged_since(alert_dir, snapshot), empty_ok=True)
            if report.stale:
                return STALE
            if report.unwritten:
                return UNWRITTEN
            alerts_ok = report.ok
            changed = changed or bool(report.written)
    # The recorded series follow the alert rules that are loaded: a broken file must not drop the series of
    # its metric. The registry's series load with the first build even when the alert files are broken.
    if alerts_ok or args.first:
        try:
            changed = write_recording_rules(rules.parent / FILE_NAME, metrics) or changed
        except OSError as error:
            _echo(f"cannot write {rules.parent / FILE_NAME}: {os_error_reason(error)}", True)
            return UNWRITTEN
    if report is not None and report.ok and changed:
        count = sum(len(source.alerts) + 2 * len(source.slos) for source in files)
        _echo(f"{count} alert{'s' if count != 1 else ''} from {alert_dir} compiled", False)
    if alert_dir is not None and args.first and args.notifier_url:
        _channels(alert_dir)
    outcome = CHANGED if changed else UNCHANGED
    if (changed or (args.force and alerts_ok)) and args.state:
        # "loaded" is said only of alert rules that compiled.
        outcome = _reload(Path(args.state), announce=alert_dir is not None and alerts_ok)
    if args.state:
        count = sum(len(source.alerts) + 2 * len(source.slos) for source in files)
        _record(Path(args.state), outcome if alerts_ok else FAILED, what_stays(rules),
                f"{count} alert{'s' if count != 1 else ''} from {alert_dir}" if alert_dir else
                f"no alert folder ({args.alerts or 'none given'})")
    if args.dashboard_dir:
        _dashboard(args, alert_dir)
    return outcome if alerts_ok else FAILED


def _record(state_dir: Path, outcome: int, stays: str, loaded: str) -> None:
    """What ``hms-ops status`` shows for the alerts: loaded (and since when), or the first error and what stays."""
    import time

    from hms_otel.errors import os_error_reason
    from hms_otel.stack import state

    previous = state.read_alerts(state_dir)
    if outcome == CHANGED:
        status = state.AlertsStatus(True, f"{loaded} loaded at {time.strftime('%H:%M:%S')}")
    elif outcome == UNCHANGED:  # the servers already run these files (a failed build forces the next reload)
        status = previous if previous is not None and previous.ok else state.AlertsStatus(True, f"{loaded} loaded")
    elif outcome == FAILED:
        problems = [text for text in _errors if not text.startswith("alert files have errors")] or _errors
        more = f" (and {len(problems) - 1} more on the console)" if len(problems) > 1 else ""
        first = problems[0].splitlines()[0] if problems else "the build failed"
        status = state.AlertsStatus(False, f"{first}{more}; {stays}")
    else:
        status = state.AlertsStatus(False, _errors[-1] if _errors else "the servers did not reload")
    try:
        state.write_alerts(state_dir, status)
    except OSError as error:  # a full disk: the console has said what happened
        _echo(f"cannot record the outcome for `hms-ops status`: {os_error_reason(error)}", True)


def _reload(state_dir: Path, announce: bool) -> int:
    """Alertmanager first (its new routes must exist before Prometheus sends new alerts), then Prometheus.

    ``CHANGED`` when both took the files, ``RELOAD_LATER`` when one did not answer, else ``NOT_RELOADED``.
    """
    import signal

    from hms_otel.stack import state
    from hms_otel.stack.services import ConfigInvalid, ReloadUnanswered, reload_alertmanager, reload_prometheus

    recorded = state.read(state_dir)
    components = {record.name: record for record in recorded.components} if recorded else {}

    def running(name: str) -> state.ProcessRecord:
        record = components.get(name)
        if record is None or not record.alive:
            raise ConfigInvalid(f"{name} is not running; nothing to reload")
        return record

    def alertmanager() -> None:
        record = running("alertmanager")
        reload_alertmanager(record.url, record.health_headers)

    def prometheus() -> None:
        record = running("prometheus")
        reload_prometheus(record.url, Path(record.log), lambda: os.kill(record.pid, signal.SIGHUP))

    for name, reload in (("Alertmanager", alertmanager), ("Prometheus", prometheus)):
        try:
            reload()
        except ReloadUnanswered as error:
            _echo(f"reload of {name} failed: {error}; asking again shortly", True)
            return RELOAD_LATER
        except ConfigInvalid as error:
            _echo(f"reload of {name} failed: {error}", True)
            return NOT_RELOADED
    if announce:
        _echo("loaded (Alertmanager and Prometheus reloaded)", False)
    return CHANGED


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hms_otel.stack.alert_sync", description=__doc__)
    parser.add_argument("--alerts", help="the alert folder (none: only the registry's recorded series)")
    parser.add_argument("--rules", required=True, help="Prometheus rule file for the compiled alerts")
    parser.add_argument("--alertmanager-yml", required=True)
    parser.add_argument("--notifier-url", default="")
    parser.add_argument("--notifier-token-file", default="")
    parser.add_argument("--notifier-journal", default="", help="the notifier's journal (probable sources)")
    parser.add_argument("--dashboard-dir", default="")
    parser.add_argument("--alertmanager-url", default="")
    parser.add_argument("--logs-url", default="")
    parser.add_argument("--first", action="store_true", help="the stack's first build: always reload, report channels")
    parser.add_argument("--force", action="store_true", help="reload the servers even when nothing changed")
    parser.add_argument("--state", default="", help="the stack's state folder: reload its servers after a change")
    return sync(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
