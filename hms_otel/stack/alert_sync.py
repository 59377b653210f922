"""One alert rebuild for ``hms-ops up``, run as a short-lived child process.

The supervisor only notices that an alert file changed (a cheap poll of
modification times, :class:`AlertFolder`); compiling, checking with promtool
and amtool, writing and reloading happen here, in a process that exits, so the
resting supervisor never holds the compiler in memory.

    python -m hms_otel.stack.alert_sync DIR RULES ALERTMANAGER_YML PROMETHEUS_URL ALERTMANAGER_URL [--wait-ready]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: Alert file suffixes the compiler reads.
SUFFIXES = (".yml", ".yaml")


class AlertFolder:
    """The alert folder ``hms-ops up`` watches; ``changed()`` is true after any file was added, edited or removed."""

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
    print("alerts: " + text, file=sys.stderr if is_error else sys.stdout, flush=True)


def _wait_ready(urls: list[str], timeout: float = 60.0) -> None:
    from hms_otel.http import ok

    deadline = time.monotonic() + timeout
    interval = 0.02
    while not all(ok(url + "/-/ready", timeout=0.5) for url in urls) and time.monotonic() < deadline:
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def sync(
    directory: Path, rules: Path, alertmanager_yml: Path, prometheus_url: str, alertmanager_url: str, *,
    wait_ready: bool = False,
) -> bool:
    """Compile ``directory`` into the stack, with the recording rules its ms histograms need; reload both."""
    from hms_otel.alerts.compiler import load_dir
    from hms_otel.alerts.settings import Settings, SettingsError
    from hms_otel.alerts.watcher import rebuild
    from hms_otel.stack.recorded import FILE_NAME, write_recording_rules

    files, _problems = load_dir(directory)  # the problems are reported by rebuild below
    metrics = [alert.metric for source in files for alert in source.alerts]
    metrics += [slo.metric for source in files for slo in source.slos]
    # Written first, so the reload below loads the recorded series together with the alerts.
    write_recording_rules(rules.parent / FILE_NAME, metrics)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        _echo(str(error), True)
        return False
    if wait_ready:
        _wait_ready([prometheus_url, alertmanager_url])
    report = rebuild(directory, rules, alertmanager_yml, prometheus_url=prometheus_url,
                     alertmanager_url=alertmanager_url, settings=settings, force=True, echo=_echo)
    if report.ok:
        count = sum(len(source.alerts) + 2 * len(source.slos) for source in files)
        _echo(f"{count} alert{'s' if count != 1 else ''} from {directory} loaded", False)
    return report.ok


def main(argv: list[str]) -> int:
    wait_ready = "--wait-ready" in argv
    args = [arg for arg in argv if arg != "--wait-ready"]
    if len(args) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    directory, rules, alertmanager_yml, prometheus_url, alertmanager_url = args
    ok = sync(Path(directory), Path(rules), Path(alertmanager_yml), prometheus_url, alertmanager_url,
              wait_ready=wait_ready)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
