"""``hms-ops logs``: search and follow the stack's log store, or show a stack component's own log.

    hms-ops logs search "timed out" --service payments --level warn --since 30m
    hms-ops logs tail --service payments
    hms-ops logs collector -f                     # <state>/collector/collector.log

The log store's address comes from the running stack's state folder
(``<state>/victorialogs/url``, written by ``hms-ops up``), or ``--url``.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hms_otel.cli import GuardedGroup
from hms_otel.envoption import EnvOption
from hms_otel.logstore import (
    LEVELS,
    LogRecord,
    LogStore,
    LogStoreUnavailable,
    ago,
    filter_problem,
    parse_time,
    stack_url,
)
from hms_otel.stack.state import StateFolderError, checked_folder, chosen_by, state_dir
from hms_otel.terminal import safe_name, safe_text

_console = Console(highlight=False)
_LEVEL_STYLE = {"debug": "dim", "info": "", "warn": "yellow", "error": "red", "fatal": "bold red"}
#: Attributes every record carries that say nothing about the event itself (left out of the table).
_NOISE_PREFIXES = ("telemetry.", "service.instance.", "process.", "host.", "os.", "scope.", "severity_", "code.")
_NOISE_FIELDS = frozenset({"deployment.environment", "deployment.environment.name", "otelTraceSampled"})


def _store(ctx: click.Context) -> LogStore:
    options = ctx.obj  # set by the group callback
    return LogStore(options["url"] or stack_url(options["state"]))


# -- the group: subcommands, or a component name -----------------------------------------------------------------


class _LogsGroup(GuardedGroup):
    """``search`` and ``tail`` are subcommands; any other word is a stack component's log. Errors are one line
    (a log store that does not answer names `hms-ops up`; a rejected query says what is wrong)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return args[0], _component_command(args[0]), args[1:]
        return super().resolve_command(ctx, args)


@click.group(cls=_LogsGroup, invoke_without_command=True)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    cls=EnvOption,
    envvar="HMS_OPS_STATE",
    help="State folder of `hms-ops up` (default .hms-ops; env HMS_OPS_STATE).",
)
@click.option("--url", cls=EnvOption, envvar="HMS_LOGS_URL", help="Log store URL (default: the running stack's).")
@click.pass_context
def logs(ctx: click.Context, state: Path | None, url: str | None) -> None:
    """Search the stack's logs, follow them, or show a component's own log.

    \b
    hms-ops logs search [TEXT] [--service S] [--layer L] [--level LEVEL] [--since 10m | --from T --to T]
    hms-ops logs tail [--service S]
    hms-ops logs COMPONENT [-f]       collector, prometheus, alertmanager, victorialogs, ...
    """
    directory = state_dir(state)
    from_variable = ctx.get_parameter_source("state") is ParameterSource.ENVIRONMENT
    try:
        checked_folder(directory, "HMS_OPS_STATE" if from_variable else chosen_by(state))
    except StateFolderError as error:
        raise click.ClickException(str(error)) from None
    ctx.obj = {"state": directory, "url": url}
    if ctx.invoked_subcommand is None:
        components = ", ".join(_components(ctx.obj["state"])) or "none yet (is the stack started with `hms-ops up`?)"
        click.echo(ctx.get_help())
        click.echo(f"\nComponents in {ctx.obj['state']}: {components}")


def _filters(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.argument("text", required=False),
            click.option("--service", "-s", help="service.name (exact)."),
            click.option("--layer", "-l", help="HMS layer: ACH, SVC, A2A, ACT, ESQ (exact)."),
            click.option(
                "--level",
                type=click.Choice([*LEVELS, "warning"], case_sensitive=False),
                help="Severity level (warning = warn).",
            ),
            click.option("--logsql", help="An extra LogsQL filter, e.g. 'payment_id:=123'."),
        ]
    ):
        func = option(func)
    return func


def _check_filters(text: str | None, service: str | None, layer: str | None, logsql: str | None) -> None:
    """Usage errors for filters no query can carry: bytes that are not UTF-8 (a shell passes them through as
    lone surrogates), and a --logsql that is not one filter (it would escape its parentheses)."""
    for name, value in (("TEXT", text), ("--service", service), ("--layer", layer), ("--logsql", logsql)):
        if value and any(0xDC80 <= ord(char) <= 0xDCFF for char in value):
            raise click.UsageError(f"{name} is not valid UTF-8: {safe_name(value[:100])}")
    if logsql and (problem := filter_problem(logsql)):
        raise click.UsageError(f"--logsql must be one filter, not one with {problem}")


def _level(level: str | None) -> str | None:
    return "warn" if level and level.lower() == "warning" else (level.lower() if level else None)


def _time_range(since: str | None, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime | None]:
    if since and (start or end):
        raise click.UsageError("use either --since or --from/--to, not both")
    try:
        now = dt.datetime.now(dt.timezone.utc)
        if start or end:
            begin = parse_time(start, now) if start else now - dt.timedelta(hours=1)
            finish = parse_time(end, now) if end else None
            if finish is not None and begin >= finish:
                raise ValueError(f"--from {begin.isoformat()} must be before --to {finish.isoformat()}")
            return begin, finish
        return ago(since or "1h", now), None
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@logs.command()
@_filters
@click.option("--since", help="How far back, e.g. 10m, 2h, 1d (default 1h).")
@click.option("--from", "start", help="Start: ISO 8601 (2026-11-26T19:30:00Z), unix seconds, or a duration ago.")
@click.option("--to", "end", help="End (exclusive), same forms as --from (default now).")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of records instead of a table.")
@click.pass_context
def search(
    ctx: click.Context,
    text: str | None,
    service: str | None,
    layer: str | None,
    level: str | None,
    logsql: str | None,
    since: str | None,
    start: str | None,
    end: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Records matching TEXT (a phrase in the message) and the filters, newest first."""
    _check_filters(text, service, layer, logsql)
    begin, finish = _time_range(since, start, end)
    records = _store(ctx).search(
        text, service=service, layer=layer, level=_level(level), logsql=logsql, start=begin, end=finish, limit=limit
    )
    hint = _masked_text_hint(text) if not records else None
    if as_json:
        click.echo(json.dumps([record.to_json() for record in records], ensure_ascii=False, indent=1))
        if hint:
            click.echo(hint, err=True)
        return
    if not records:
        _console.print(f"no records since {begin.isoformat(timespec='seconds')} match")
        if hint:
            _console.print(escape(hint))
        return
    _console.print(_table(records))


def _masked_text_hint(text: str | None) -> str | None:
    """Why a search may find nothing: the collector masks personal data before records are stored, so a text
    holding something it masks (nine digits in a row, as in an SSN; a card or phone number; an e-mail
    address) never matches. Order and request ids in hex hold nine digits in a row now and then."""
    if not text:
        return None
    from hms_otel.pii import redact_text

    stored = redact_text(text)
    if stored == text:
        return None
    return (f'note: "{safe_name(text)}" holds what the stack masks as personal data (a card, SSN or phone number, '
            f'an e-mail address) before it stores a record, so records read "{safe_name(stored)}"; search for a '
            "part without it")


@logs.command()
@_filters
@click.pass_context
def tail(
    ctx: click.Context, text: str | None, service: str | None, layer: str | None, level: str | None, logsql: str | None
) -> None:
    """Follow new records as they arrive (a few seconds behind, so late records are not skipped). Ctrl-C stops."""
    _check_filters(text, service, layer, logsql)
    store = _store(ctx)
    if hint := _masked_text_hint(text):
        click.echo(hint, err=True)
    try:
        for record in store.tail(text, service=service, layer=layer, level=_level(level), logsql=logsql):
            _console.print(_line(record))
        raise LogStoreUnavailable(f"the log store at {store.url} closed the connection (stopped? see `hms-ops up`)")
    except KeyboardInterrupt:
        pass


# -- rendering -----------------------------------------------------------------------------------------------------


def _attributes(record: LogRecord) -> str:
    shown = {
        k: v for k, v in record.fields.items() if not k.startswith(_NOISE_PREFIXES) and k not in _NOISE_FIELDS and v
    }
    return " ".join(f"{safe_name(k)}={safe_name(v)}" for k, v in sorted(shown.items()))


def _styled_level(level: str) -> str:
    style = _LEVEL_STYLE.get(level, "")
    return f"[{style}]{escape(safe_name(level))}[/]" if style else escape(safe_name(level))


def _table(records: list[LogRecord]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("time (UTC)", "service", "level", "message", "attributes"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            record.time.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            # What services log is shown, not obeyed: escape sequences, NUL, BEL and bidi overrides as \x1b etc.
            escape(safe_name(record.service + (f" ({record.layer})" if record.layer else ""))),
            _styled_level(record.level),
            escape(safe_text(record.message)),  # a message of several lines stays several lines in its cell
            escape(_attributes(record)),
        )
    return table


def _line(record: LogRecord) -> str:
    stamp = record.time.astimezone(dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    attributes = _attributes(record)
    # One line per record: newlines are shown as \n too.
    service, message = safe_name(record.service), safe_name(record.message)
    return f"{stamp} {escape(service)} {_styled_level(record.level)} {escape(message)}" + (
        f"  [dim]{escape(attributes)}[/]" if attributes else ""
    )


# -- component logs ------------------------------------------------------------------------------------------------


def _components(state: Path) -> list[str]:
    if not state.is_dir():
        return []
    names = [d.name for d in sorted(state.iterdir()) if d.is_dir() and (d / f"{d.name}.log").is_file()]
    return names + sorted(p.stem for p in state.glob("*.log"))


def component_log(state: Path, name: str) -> Path:
    """``<state>/<name>/<name>.log`` (a stack process) or ``<state>/<name>.log`` (e.g. demo)."""
    for path in (state / name / f"{name}.log", state / f"{name}.log"):
        if path.is_file():
            return path
    known = ", ".join(_components(state))
    if not state.is_dir():
        raise click.ClickException(f"no stack state folder {state}: start the stack with `hms-ops up` (or --state DIR)")
    raise click.ClickException(f"no log for {name!r} in {state}; components: {known or 'none'}")


#: How many bytes before the read position :func:`follow` compares to tell a file rewritten from its start.
_SEEN_BYTES = 256


def follow(handle: BinaryIO, path: Path, wait: Callable[[], object] = lambda: time.sleep(0.25)) -> Iterator[str]:
    """Lines appended to ``path`` after ``handle``'s position, surviving rotation (the file renamed and a new
    one made: what was still written to the old one is read first), truncation and re-creation (a restart),
    including a truncation followed at once by more than was there (``copytruncate``): the bytes before the
    read position are compared each time the end was reached. ``wait`` runs at the end of the file."""
    inode = os.fstat(handle.fileno()).st_ino
    seen = b""  # the last bytes read, to tell the file rewritten when it is no shorter than before
    try:
        while True:
            line = handle.readline()
            if line:
                seen = (seen + line)[-_SEEN_BYTES:]
                yield line.decode(errors="replace")
                continue
            wait()
            try:
                current = path.stat()
            except FileNotFoundError:
                continue
            if current.st_ino != inode:
                for line in handle:  # written to the old file after it was read to its end
                    yield line.decode(errors="replace")
                handle.close()
                handle = path.open("rb")
                inode, seen = os.fstat(handle.fileno()).st_ino, b""
            elif current.st_size < handle.tell() or _rewritten(handle, seen):
                handle.seek(0)
                seen = b""
    finally:
        handle.close()


def _rewritten(handle: BinaryIO, seen: bytes) -> bool:
    """Whether the bytes before ``handle``'s position are no longer ``seen`` (the file was cut and written
    again since)."""
    position = handle.tell()
    return bool(seen) and os.pread(handle.fileno(), len(seen), position - len(seen)) != seen


def _component_command(name: str) -> click.Command:
    @click.command(name=name, help=f"Show the log of the stack component {name}.")
    @click.option(
        "--follow", "-f", "keep_following", is_flag=True, help="Keep printing lines as they are written (Ctrl-C stops)."
    )
    @click.option("--lines", "-n", type=click.IntRange(0), default=200, show_default=True, help="Last lines to show.")
    @click.pass_context
    def show(ctx: click.Context, keep_following: bool, lines: int) -> None:
        path = component_log(ctx.obj["state"], name)
        handle = path.open("rb")  # one handle: a line written between showing the last ones and following is kept
        with contextlib.closing(handle):
            last = collections.deque(handle, maxlen=lines)
            # A process's log holds what it was sent (a bad query, an app's log record in the debug exporter):
            # shown, not obeyed, like the records of `search` and `tail` (newlines and tabs kept).
            click.echo(safe_text(b"".join(last).decode(errors="replace")), nl=False)
            if keep_following:
                try:
                    for line in follow(handle, path):
                        click.echo(safe_text(line), nl=False)
                except KeyboardInterrupt:
                    pass

    return show
