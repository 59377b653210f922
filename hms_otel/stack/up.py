"""``hms-ops up``: start the local stack, report it ready, supervise it until stopped.

The click command in :mod:`hms_otel.stack.cli` declares the options and calls
:func:`run`. Because the time from ``hms-ops up`` to ready is a product
target (at most 1.2x the servers' own start-up), the console script also
runs :func:`main_plain` first: when every argument is a plain use of a
declared option, it parses them here and starts without loading click (about
30 ms of imports on a small machine, a third of the budget). Anything else
(``--help``, an unknown option, a value click would reject) returns, and the
click command parses and reports it. ``tests/stack/test_up_options.py``
keeps both parsers in step.

Start-up: what this module imports before the servers launch is kept to
what launching needs. Its value types, and those of the modules it uses
(``Ports``, ``ProcessRecord``, ``StackState``, ``AlertSource``, ``BasicAuth``,
``errors.Location``/``Problem``), are named tuples rather than dataclasses:
the dataclasses module imports inspect, 10-17 ms on a small machine, a
sixth of the time `hms-ops up` spends before its first server starts. The
modules defining them do without ``from __future__ import annotations``:
typing turns a named tuple's string annotations into ForwardRefs, and the
first of those calls compile(), whose one-time set-up costs about 3 ms.
The path also avoids hashlib and secrets (they load OpenSSL) and shutil (it
loads bz2 and lzma); ``tests/stack/test_up_options.py`` checks all of this.
"""

import gc
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from hms_otel.errors import HmsError, os_error_text
from hms_otel.stack import state
from hms_otel.stack.builds import BuildError, MissingBinary
from hms_otel.stack.localstack import STANDARD_PORTS, LocalStack, Ports, port_option
from hms_otel.stack.processes import ProcessError
from hms_otel.stack.services import ConfigInvalid, collector_config_path
from hms_otel.terminal import exit_status, safe_name, shell_word

#: `hms-ops up` defaults that set how fast a page leaves (benchmarks/bench_alert_latency.py measures them).
SCRAPE_INTERVAL = "5s"
EVALUATION_INTERVAL = "1s"
DEMO_CALM_S = 20.0


class UpError(HmsError):
    """`hms-ops up` cannot start: another stack holds the state folder, or left processes running."""


#: What `up` reports as one line and exit code 1 (anything else is a bug).
KNOWN_ERRORS = (UpError, BuildError, MissingBinary, ProcessError, ConfigInvalid, state.StateFolderError,
                state.ForeignStateError, OSError)


def error_text(error: BaseException) -> str:
    """The line `up` prints for one of :data:`KNOWN_ERRORS`: an OSError as ``path: reason``, not ``[Errno 2] ...``."""
    return os_error_text(error) if isinstance(error, OSError) else str(error)


class UpOptions(NamedTuple):
    """The options of `hms-ops up`, named as the click command's parameters (ports gathered in ``ports``)."""

    state_option: Path | None = None
    collector_config: Path | None = None
    alert_dir: Path | None = None
    examples: bool = False
    detach: bool = False
    fresh: bool = False
    no_logs: bool = False
    scrape_interval: str = SCRAPE_INTERVAL
    evaluation_interval: str = EVALUATION_INTERVAL
    demo: bool = False
    demo_calm: float = DEMO_CALM_S
    ports: Ports = STANDARD_PORTS

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "UpOptions":
        """From the click command's parameters (``<field>_port`` for each port)."""
        rest = dict(params)
        ports = Ports(**{name: rest.pop(f"{name}_port") for name in Ports._fields})
        return cls(ports=ports, **rest)


# -- the plain parser -----------------------------------------------------------------------------------------

#: Long options of `hms-ops up` that take a value -> UpOptions field (ports: localstack.port_option).
VALUE_OPTIONS = {
    "--state": "state_option",
    "--config": "collector_config",
    "--alerts": "alert_dir",
    "--scrape-interval": "scrape_interval",
    "--evaluation-interval": "evaluation_interval",
    "--demo-calm": "demo_calm",
}
FLAG_OPTIONS = {"--examples": "examples", "--detach": "detach", "--fresh": "fresh", "--no-logs": "no_logs",
                "--demo": "demo"}


def _port(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 1 <= value <= 65535 else None


def is_interval(text: str) -> bool:
    """A Prometheus duration (``5s``, ``1m30s``, ``500ms``; its model.ParseDuration) that is not zero."""
    unit = "(?:[0-9]+{})?"
    pattern = "".join(unit.format(name) for name in ("y", "w", "d", "h", "m", "s", "ms"))
    return re.fullmatch(pattern, text) is not None and any(digit in text for digit in "123456789")


def is_duration(seconds: float) -> bool:
    """A number of seconds a process can wait: not negative, not infinite, not NaN."""
    return 0 <= seconds < float("inf")


def _value(field: str, text: str) -> object | None:
    """``text`` converted as the click option converts it, or None where click would say more (an error)."""
    if field in ("scrape_interval", "evaluation_interval"):
        return text if is_interval(text) else None
    if field == "demo_calm":
        try:
            seconds = float(text)
        except ValueError:
            return None
        return seconds if is_duration(seconds) else None
    # Paths: what click.Path checks (exists, kind, readable); the message for a bad one is click's.
    if field == "state_option":  # need not exist; if it does, a readable folder
        return Path(text) if not os.path.exists(text) or (os.path.isdir(text) and os.access(text, os.R_OK)) else None
    wanted_kind = os.path.isdir if field == "alert_dir" else os.path.isfile
    return Path(text) if wanted_kind(text) and os.access(text, os.R_OK) else None


def parse_plain(args: Sequence[str], environ: Mapping[str, str]) -> UpOptions | None:
    """The options in ``args`` (the words after ``up``), or None unless each is a plain, valid use."""
    ports = STANDARD_PORTS._asdict()
    by_option = {port_option(name)[0]: name for name in ports}
    for name in ports:
        text = environ.get(port_option(name)[1])
        if text:  # click reads a non-empty variable when the option is not given
            value = _port(text)
            if value is None:
                return None
            ports[name] = value
    chosen: dict[str, object] = {}
    words = list(args)
    while words:
        word = words.pop(0)
        option, has_inline, inline = word.partition("=")
        if option in FLAG_OPTIONS and not has_inline:
            chosen[FLAG_OPTIONS[option]] = True
            continue
        if option not in VALUE_OPTIONS and option not in by_option:
            return None
        if not has_inline:
            if not words:
                return None
            inline = words.pop(0)
        if option in by_option:
            port = _port(inline)
            if port is None:
                return None
            ports[by_option[option]] = port
            continue
        converted = _value(VALUE_OPTIONS[option], inline)
        if converted is None:
            return None
        chosen[VALUE_OPTIONS[option]] = converted
    return UpOptions(ports=Ports(**ports), **chosen)  # type: ignore[arg-type]


def main_plain(args: Sequence[str]) -> None:
    """Run `hms-ops up` if ``args`` parse plainly (then exit); else return for the click command."""
    options = parse_plain(args, os.environ)
    if options is None:
        gc.enable()  # disabled by the console script for the start-up (hms_otel.tooling)
        return
    try:
        run(options)
    except BrokenPipeError as error:  # as on the click path: quiet when the output's reader went away
        from hms_otel.cli import fail

        fail(error)
    except KNOWN_ERRORS as error:
        import click  # loaded only now, so the message reads as the click command's

        click.ClickException(error_text(error)).show()
        sys.exit(1)
    except (Exception, KeyboardInterrupt) as error:
        from hms_otel.cli import fail

        fail(error)
    if options.detach:
        # The stack runs on in the supervisor; this process has nothing left to release, and tearing
        # the interpreter down would hold the shell another 30-40 ms on a small machine.
        _flush_outputs()
        os._exit(exit_status(0))  # 1 if stdout was closed: nobody saw the URLs
    sys.exit(0)


# -- running --------------------------------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def links_text(links: dict[str, str]) -> str:
    width = max(len(label) for label in links)
    return "\n".join(f"  {label.ljust(width)}  {url}" for label, url in links.items())


def _already_running(directory: Path) -> UpError:
    recorded = state.read(directory)
    shown = safe_name(str(directory))
    if recorded is None:
        return UpError(f"a stack is already starting or running with state {shown}")
    return UpError(
        f"a stack is already running with state {shown} (hms-ops up PID {recorded.supervisor.pid}):\n"
        f"{links_text(recorded.links)}\n"
        f"`hms-ops status` checks it, `hms-ops down` stops it; `--state DIR` runs a second one."
    )


def run(options: UpOptions) -> None:
    """Start the stack; with ``detach``, return once it is ready, else supervise until Ctrl-C or SIGTERM."""
    from hms_otel.stack.lifecycle import choose_alert_folder

    setting = state.chosen_by(options.state_option)
    directory = state.resolve_folder(state.state_dir(options.state_option), setting)
    _check_utf8("the state folder (--state or HMS_OPS_STATE)", directory)
    state.check_folder(directory, setting)
    if options.collector_config is not None:
        _check_utf8("--config", options.collector_config.resolve())
    try:
        lock = state.try_lock(directory)
    except OSError as error:  # the first write into it: a read-only or full file system, no permission
        shown = safe_name(str(directory))
        raise UpError(f"cannot use the state folder {shown} (from {setting}): {os_error_text(error)}") from None
    if lock is None:
        raise _already_running(directory)
    leftover = state.read(directory)
    if leftover is not None:
        state.check_owner(directory, leftover)  # a copy of a running stack's folder: name that folder
    if leftover is not None and any(record.alive for record in leftover.components):
        running = ", ".join(f"{safe_name(r.name)} (PID {r.pid})" for r in leftover.components if r.alive)
        raise UpError(
            f"processes of an earlier stack with state {safe_name(str(directory))} still run: {running}; "
            f"`hms-ops down --state {shell_word(str(directory))}` stops them"
        )
    alerts = choose_alert_folder(options.alert_dir, options.examples or options.demo)
    stack = LocalStack(
        directory,
        options.ports,
        collector_config=options.collector_config or collector_config_path("local"),
        scrape_interval=options.scrape_interval,
        evaluation_interval=options.evaluation_interval,
        with_victorialogs=not options.no_logs,
    )
    stack.check_can_start()  # ports and binaries: one message, before anything starts or forks
    if options.fresh:
        import shutil

        for service in stack.services:
            shutil.rmtree(directory / service.name, ignore_errors=True)
    say(alerts.reason)
    if options.detach:
        _detach_and_report(directory, lambda report: _supervise(stack, alerts, options, report))
    else:
        _supervise(stack, alerts, options, None)
    lock.close()


def _check_utf8(what: str, path: Path) -> None:
    """Paths go into the servers' config files, logs and this console, all UTF-8 text: refuse one that is not
    (a folder name in another encoding) before anything starts, rather than fail half-way."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UpError(f"{what} {os.fsencode(path)!r} is not UTF-8 text, which the servers' config files "
                      "need: use a path whose name is UTF-8") from None


class SupervisorBug(Exception):
    """The detached supervisor failed on an unexpected error (a bug); its traceback is in the console log."""


def _flush_outputs() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when closed (`2>&-`)
            stream.flush()


def _console_streams() -> None:
    """In the supervisor, once fds 1 and 2 are the console log: a stream `up` started without (closed with
    `>&-`, so Python has none, or a stand-in that drops what it gets) writes there too, not nowhere."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        try:
            usable = stream is not None and stream.fileno() == fd
        except (OSError, ValueError):  # a stand-in with no file behind it
            usable = False
        if not usable:
            setattr(sys, name, open(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False))


def _detach_and_report(directory: Path, supervise: Callable[[IO[str]], int]) -> None:
    """Fork the supervisor into its own session; return when it reports ready (or raise why it did not).

    A fork, not a new interpreter: the supervisor starts without paying for
    Python's start-up and imports again, which keeps `up --detach` near the
    servers' own start-up time.
    """
    console_log = directory / state.CONSOLE_LOG
    read_end, write_end = os.pipe()
    _flush_outputs()
    pid = os.fork()
    if pid == 0:  # the supervisor
        os.close(read_end)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        _console_streams()
        code = 1
        try:
            with os.fdopen(write_end, "w") as report:
                try:
                    code = supervise(report)
                except BaseException as error:  # a bug: os._exit below would drop it unseen
                    import traceback

                    with console_log.open("a") as log:
                        traceback.print_exc(file=log)
                    report.write(json.dumps({"bug": f"{type(error).__name__}: {error}"}) + "\n")
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        line = report.readline()
    try:
        outcome: dict[str, Any] = json.loads(line)
    except ValueError:
        raise UpError(
            f"the stack exited while starting; last lines of {safe_name(str(console_log))}:\n"
            + "\n".join(console_log.read_text(errors="replace").splitlines()[-20:])
        ) from None
    if "error" in outcome:
        raise UpError(outcome["error"])
    if "bug" in outcome:
        raise SupervisorBug(f"{outcome['bug']}; the traceback is in {safe_name(str(console_log))}")
    say(f"HMS local stack ready in {outcome['started_in']:.1f} s (hms-ops up PID {pid}, detached)")
    say(links_text(outcome["links"]))
    say(f"Console (alert texts, reloads): {safe_name(str(console_log))}\n"
        "`hms-ops status` checks it, `hms-ops down` stops it.")


def interrupt(signum: int, frame: object) -> None:
    """A signal handler: SIGTERM (`hms-ops down`, a process manager, a CI timeout) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def _supervise(stack: LocalStack, alerts: Any, options: UpOptions, report: IO[str] | None) -> int:
    """Start, report readiness (to the detaching parent or the terminal), supervise until stopped."""
    from hms_otel.stack.lifecycle import Supervisor

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started with SIGINT ignored (a background job)
    alert_env = {"HMS_SCRAPE_INTERVAL": options.scrape_interval}

    def extras(started: LocalStack) -> dict[str, subprocess.Popen[bytes]]:
        return {"demo": _start_demo(started, options.demo_calm)} if options.demo else {}

    supervisor = Supervisor(stack, alerts, alert_env=alert_env, say=say, extra_processes=extras)
    try:
        try:
            recorded = supervisor.start()
        except KNOWN_ERRORS as error:
            if report is None:
                raise
            report.write(json.dumps({"error": error_text(error)}) + "\n")
            return 1
        if report is not None:
            report.write(json.dumps({"links": recorded.links, "started_in": supervisor.started_in}) + "\n")
            report.flush()
        gc.enable()  # the start-up is over (the console script disabled it, hms_otel.tooling)
        say(f"HMS local stack ready in {supervisor.started_in:.1f} s")
        say(links_text(recorded.links))
        if options.demo:
            demo_log = safe_name(str(stack.workdir / "demo" / "demo.log"))
            say(f"demo service running (log: {demo_log}); payments slow down after "
                f"{options.demo_calm:g} s, and the payment alert's text appears here about half a minute later "
                "(once the 30 s average passes 2 s)")
        if report is None:
            say("Ctrl-C stops everything.")
        supervisor.supervise()
    except KeyboardInterrupt:
        say("stopping ...")
    finally:
        supervisor.stop()
    return 0


def _start_demo(stack: LocalStack, calm: float) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(stack.env())
    env.update({"OTEL_SERVICE_NAME": "hms-demo-payments", "HMS_LAYER": "ACH", "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    log = stack.workdir / "demo" / "demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(instrument), sys.executable, "-m", "hms_otel.stack.demo", "--calm", str(calm)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
