"""The one client for the log store: VictoriaLogs' LogsQL HTTP API.

Used by ``hms-ops logs search|tail`` and by the notifier (the most frequent
error of a service over a window)::

    from hms_otel.logstore import LogStore, stack_url

    store = LogStore(stack_url())          # the running `hms-ops up` stack (state folder .hms-ops/)
    now = datetime.now(timezone.utc)
    for record in store.search("timed out", service="payments", start=now - timedelta(minutes=10), limit=20):
        print(record.time, record.level, record.message)     # newest first
    store.top_messages("payments", start=now - timedelta(minutes=5), end=now)
    # -> [("Payment #123 timed out", 17)]: the most frequent error/warning message in the window

Field names are those the HMS collector writes (collector-config/local.yaml):
``service.name``, ``hms.layer`` and ``level`` are stream fields (VictoriaLogs'
index), the log body is ``_msg``, the timestamp ``_time``, every other resource
and log attribute a field of its own name.

Every failure is a :class:`LogStoreError` with a one-line message:
:class:`LogStoreUnavailable` when nothing answers (the stack is not running),
:class:`LogQueryError` when VictoriaLogs rejects the query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client as http_client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hms_otel import http
from hms_otel.errors import HmsError
from hms_otel.terminal import safe_name

#: The stream fields (low cardinality) the collector marks for VictoriaLogs.
SERVICE_FIELD = "service.name"
LAYER_FIELD = "hms.layer"
LEVEL_FIELD = "level"
STREAM_FIELDS = (SERVICE_FIELD, LAYER_FIELD, LEVEL_FIELD)
#: Values of the ``level`` field (set from the OTel severity by the collector).
LEVELS = ("debug", "info", "warn", "error", "fatal", "unknown")
#: Fields every record has that are not its attributes.
_BUILTIN_FIELDS = frozenset({"_time", "_msg", "_stream", "_stream_id", *STREAM_FIELDS})

DEFAULT_URL = "http://127.0.0.1:9428"
#: The largest answer read from the log store: 100 000 records (the most `search` asks for) of about 2 KiB.
MAX_ANSWER_BYTES = 256 * 2**20
#: The longest record line `tail` reads (VictoriaLogs' own limit on a log line is 2 MiB by default).
MAX_LINE_BYTES = 16 * 2**20
#: How much of an error text from the log store is shown (it can repeat a 16 KiB query).
_ERROR_CHARS = 300


def stack_url(state: Path = Path(".hms-ops")) -> str:
    """The log store of the stack whose state folder is ``state``: the URL ``hms-ops up`` recorded in
    ``<state>/victorialogs/url``, else ``HMS_VICTORIALOGS_PORT`` or the standard port on 127.0.0.1."""
    recorded = state / "victorialogs" / "url"
    if recorded.is_file():
        return recorded.read_text().strip()
    port = os.environ.get("HMS_VICTORIALOGS_PORT")
    return f"http://127.0.0.1:{port}" if port else DEFAULT_URL


class LogStoreError(HmsError):
    """A log store request failed; the message is one line saying what to do."""


class LogStoreUnavailable(LogStoreError):
    """Nothing answers at the log store's address."""


class LogQueryError(LogStoreError):
    """The log store rejected the query (bad LogsQL, bad time range)."""


@dataclasses.dataclass(frozen=True)
class LogRecord:
    """One stored log record."""

    time: dt.datetime
    message: str
    service: str
    layer: str
    level: str
    fields: dict[str, str]

    @classmethod
    def from_row(cls, row: object) -> LogRecord:
        """The record VictoriaLogs sent as ``row``; ValueError saying what is wrong with anything else (a
        server that is not VictoriaLogs): a record's fields are all strings, and it has a ``_time``."""
        row = _string_fields(row)
        if "_time" not in row:
            raise ValueError("a record without _time")
        try:
            time = parse_time(row["_time"])
        except ValueError:
            raise ValueError(f"_time {safe_name(row['_time'][:40])!r} is not a time") from None
        return cls(
            time=time,
            message=row.get("_msg", ""),
            service=row.get(SERVICE_FIELD, ""),
            layer=row.get(LAYER_FIELD, ""),
            level=row.get(LEVEL_FIELD, ""),
            fields={k: v for k, v in row.items() if k not in _BUILTIN_FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "service": self.service,
            "layer": self.layer,
            "level": self.level,
            "message": self.message,
            "fields": self.fields,
        }


def _string_fields(row: object) -> dict[str, str]:
    """``row`` as VictoriaLogs sends every row (a JSON object of strings); ValueError saying what it is else."""
    if not isinstance(row, dict):
        raise ValueError(f"a JSON {type(row).__name__}, not an object")
    for key, value in row.items():
        if not isinstance(value, str):
            raise ValueError(f"field {safe_name(key[:40])!r} is a JSON {type(value).__name__}, not a string")
    return row


# -- query building -------------------------------------------------------------------------------------------


def quote(value: str) -> str:
    """A LogsQL string literal for any text (double-quoted, Go escapes)."""
    return json.dumps(value, ensure_ascii=False)


def build_query(
    text: str | None = None,
    *,
    service: str | None = None,
    layer: str | None = None,
    level: str | None = None,
    logsql: str | None = None,
) -> str:
    """LogsQL for the search options: a stream filter, the text as a phrase, then ``logsql`` as is."""
    selectors = [
        f"{quote(field)}={quote(value)}"
        for field, value in ((SERVICE_FIELD, service), (LAYER_FIELD, layer), (LEVEL_FIELD, level))
        if value
    ]
    parts = ["{" + ", ".join(selectors) + "}"] if selectors else []
    if text:
        parts.append(quote(text))
    if logsql:
        if problem := filter_problem(logsql):
            raise LogQueryError(f"--logsql must be one filter: {problem}")
        parts.append(f"({logsql})")
    return " ".join(parts) or "*"


def filter_problem(logsql: str) -> str | None:
    """Why ``logsql`` is not one filter expression, or None. It is put in parentheses after the other
    filters: an unbalanced ``)`` would end that group early and a ``|`` start pipes, so ``--service`` would
    no longer apply to every record (``x) or (*``) or the answer would not be records."""
    depth = 0
    quote_char = ""
    escaped = False
    for char in logsql:
        if quote_char:  # inside "...", '...' (backslash escapes) or `...` (none)
            if escaped:
                escaped = False
            elif char == "\\" and quote_char != "`":
                escaped = True
            elif char == quote_char:
                quote_char = ""
        elif char in "\"'`":
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return "an unbalanced ')' (quote it as \")\" to search for it)"
        elif char == "|" and depth == 0:
            return "a pipe '|' (give a filter, e.g. 'payment_id:=123'; pipes are for VictoriaLogs' UI)"
    if quote_char:
        return f"an unclosed {quote_char} quote"
    if depth:
        return "an unbalanced '(' (quote it as \"(\" to search for it)"
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in ``10m``, ``1h30m``, ``45s``, ``2d``; ValueError saying the accepted form otherwise."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"{text!r} is not a duration: use a number and a unit (ms, s, m, h, d, w), e.g. 10m or 1h30m")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(compact))


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An absolute time (aware, UTC when no zone is given) from what a user or VictoriaLogs writes.

    Accepts RFC 3339 / ISO 8601 (``2026-11-26T19:30:00Z``, ``2026-11-26 19:30``), unix seconds,
    ``now`` and a duration ago (``10m`` = ten minutes before now).
    """
    value = text.strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    if value == "now":
        return now
    if re.fullmatch(r"\d+(\.\d+)?", value):
        try:
            return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        except (OverflowError, OSError, ValueError):  # past year 9999 (or the platform's time_t)
            raise ValueError(f"{text!r} is not a time: unix seconds past the year 9999") from None
    if _DURATION.match(value):
        return ago(value, now)
    # Python 3.10's fromisoformat takes no "Z" and only 3 or 6 fractional digits (VictoriaLogs writes up to 9).
    iso = re.sub(r"Z$", "+00:00", value)
    iso = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], iso)
    try:
        parsed = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 like 2026-11-26T19:30:00Z, unix seconds, or a duration ago like 10m"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def ago(duration: str, now: dt.datetime | None = None) -> dt.datetime:
    """``now`` minus ``duration`` (``10m``); ValueError, not OverflowError, for one before the year 1."""
    now = now or dt.datetime.now(dt.timezone.utc)
    seconds = parse_duration(duration)
    try:
        return now - dt.timedelta(seconds=seconds)
    except OverflowError:  # timedelta holds under a million days, datetime nothing before the year 1
        raise ValueError(f"{duration!r} is too far back: a time before the year 1") from None


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


# -- the client -------------------------------------------------------------------------------------------------


class LogStore:
    """VictoriaLogs at ``url`` (``http://127.0.0.1:9428``)."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    @property
    def ui_url(self) -> str:
        return self.url + "/select/vmui/"

    def available(self) -> bool:
        return http.ok(self.url + "/health")

    def query(
        self,
        logsql: str,
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, str]]:
        """Raw LogsQL over ``[start, end)``: the JSON rows as VictoriaLogs returns them.

        With ``limit`` VictoriaLogs returns the ``limit`` newest matches.
        """
        if start and end and start >= end:
            raise LogQueryError(f"the time range is empty: start {_rfc3339(start)} is not before end {_rfc3339(end)}")
        params: dict[str, Any] = {"query": logsql}
        if start:
            params["start"] = _rfc3339(start)
        if end:
            params["end"] = _rfc3339(end)
        if limit is not None:
            if limit < 1:
                raise LogQueryError(f"limit must be at least 1, not {limit}")
            params["limit"] = limit
        body = self._post("/select/logsql/query", params)
        return [self._row(line, number) for number, line in enumerate(body.splitlines(), 1) if line.strip()]

    def search(
        self,
        text: str | None = None,
        *,
        service: str | None = None,
        layer: str | None = None,
        level: str | None = None,
        logsql: str | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int = 100,
    ) -> list[LogRecord]:
        """Records matching every given filter, newest first, at most ``limit``.

        ``text`` is a phrase in the message; ``logsql`` an extra LogsQL filter.
        """
        query = build_query(text, service=service, layer=layer, level=level, logsql=logsql)
        rows = self.query(query, start=start, end=end, limit=limit)
        records = [self._record(row, number) for number, row in enumerate(rows, 1)]
        records.sort(key=lambda record: record.time, reverse=True)
        return records

    def count(self, logsql: str = "*", *, start: dt.datetime | None = None, end: dt.datetime | None = None) -> int:
        """How many records match ``logsql`` in ``[start, end)``."""
        rows = self.query(f"{logsql} | stats count() as hits", start=start, end=end)
        return self._hits(rows[0], 1) if rows else 0

    def top_messages(
        self,
        service: str,
        *,
        start: dt.datetime,
        end: dt.datetime,
        levels: Sequence[str] = ("error", "fatal", "warn"),
        n: int = 1,
        layer: str | None = None,
    ) -> list[tuple[str, int]]:
        """The ``n`` most frequent messages of ``service`` (and ``layer``) at ``levels`` in ``[start, end)``,
        with counts."""
        level_list = ", ".join(quote(level) for level in levels)
        layer_filter = f", {quote(LAYER_FIELD)}={quote(layer)}" if layer else ""
        query = (
            f"{{{quote(SERVICE_FIELD)}={quote(service)}{layer_filter}, {quote(LEVEL_FIELD)} in ({level_list})}}"
            f" | stats by (_msg) count() as hits | sort by (hits desc, _msg) | limit {int(n)}"
        )
        rows = self.query(query, start=start, end=end)
        return [(self._field(row, number, "_msg"), self._hits(row, number)) for number, row in enumerate(rows, 1)]

    def tail(
        self,
        text: str | None = None,
        *,
        service: str | None = None,
        layer: str | None = None,
        level: str | None = None,
        logsql: str | None = None,
        delay: str = "3s",
    ) -> Iterator[LogRecord]:
        """New records as they arrive (VictoriaLogs live tailing), until the connection ends.

        ``delay`` is how long VictoriaLogs waits for late records before returning a second,
        so none arriving a little out of order are skipped.
        """
        query = build_query(text, service=service, layer=layer, level=level, logsql=logsql)
        data = _form({"query": query, "offset": delay})
        try:
            request = urllib.request.Request(self.url + "/select/logsql/tail", data=data, method="POST")
        except ValueError as error:  # "unknown url type"
            raise self._invalid_url(error) from None
        try:
            # The usual timeout until the answer's headers, and the usual deadline for all of them: a server
            # that accepts and never answers, or sends its headers a byte at a time, is an error.
            response = http.open_answer(request, self.timeout, http.DEADLINE_TIMEOUTS * self.timeout)
        except http.AnswerTooSlow:
            raise self._unavailable(f"its answer's headers took over {http.DEADLINE_TIMEOUTS * self.timeout:g} s"
                                    ) from None
        except urllib.error.HTTPError as error:
            raise _query_error(error.read(65536).decode(errors="replace")) from None
        except (urllib.error.URLError, OSError) as error:
            raise self._unavailable(error) from None
        except (ValueError, http_client.InvalidURL) as error:  # the address itself is wrong
            raise self._invalid_url(error) from None
        except http_client.HTTPException as error:  # something answered, but not HTTP
            raise self._unavailable(f"no HTTP answer ({type(error).__name__})") from None
        with response:
            _wait_indefinitely(response)  # then records come when they come
            yield from self._tail_records(response)

    def _tail_records(self, response: Any) -> Iterator[LogRecord]:
        number = 0
        while True:
            try:
                line = response.readline(MAX_LINE_BYTES + 1)
            except (OSError, http_client.HTTPException) as error:
                raise self._unavailable(f"the answer broke off: {type(error).__name__}") from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_BYTES:
                raise self._not_victorialogs(f"line {number} is over {MAX_LINE_BYTES // 2**20} MiB")
            if line.strip():
                yield self._record(self._row(line, number), number)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _post(self, path: str, params: dict[str, Any]) -> str:
        data = _form(params)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            body = http.request("POST", self.url + path, data=data, headers=headers, timeout=self.timeout,
                                max_bytes=MAX_ANSWER_BYTES)
        except (http.AnswerTooBig, http.AnswerTooSlow) as error:
            raise LogStoreError(f"the log store at {self.url} gave up: {error.body}; narrow the search "
                                "(--since, --limit, filters)") from None
        except http.HTTPError as error:
            if error.status is None:
                if error.body.startswith(http.NOT_A_URL):
                    raise self._invalid_url(error.body.removeprefix(http.NOT_A_URL)[1:-1]) from None
                raise self._unavailable(error.body) from None
            raise _query_error(error.body) from None
        try:
            return body.decode()
        except UnicodeDecodeError as error:
            raise self._not_victorialogs(f"not UTF-8 at byte {error.start}") from None

    def _row(self, line: str | bytes, number: int) -> dict[str, str]:
        """Line ``number`` of an answer: a JSON object of strings."""
        try:
            return _string_fields(json.loads(line))
        except UnicodeDecodeError as error:
            raise self._not_victorialogs(f"line {number}: not UTF-8 at byte {error.start}") from None
        except ValueError as error:  # JSONDecodeError too
            what = "not JSON" if isinstance(error, json.JSONDecodeError) else str(error)
            raise self._not_victorialogs(f"line {number}: {what}") from None

    def _record(self, row: dict[str, str], number: int) -> LogRecord:
        try:
            return LogRecord.from_row(row)
        except ValueError as error:
            raise self._not_victorialogs(f"line {number}: {error}") from None

    def _field(self, row: dict[str, str], number: int, name: str) -> str:
        if name not in row:
            raise self._not_victorialogs(f"line {number}: no {name}")
        return row[name]

    def _hits(self, row: dict[str, str], number: int) -> int:
        hits = self._field(row, number, "hits")
        if not (hits.isascii() and hits.isdigit()):
            raise self._not_victorialogs(f"line {number}: hits {safe_name(hits[:40])!r} is not a count")
        return int(hits)

    def _not_victorialogs(self, what: str) -> LogStoreError:
        return LogStoreError(f"the log store at {self.url} answered something that is not VictoriaLogs JSON ({what})")

    def _unavailable(self, reason: object) -> LogStoreUnavailable:
        why = safe_name(str(getattr(reason, "reason", reason)))  # it can hold what a server sent
        return LogStoreUnavailable(f"no log store answers at {self.url} ({why}): start the stack with `hms-ops up`")

    def _invalid_url(self, reason: object) -> LogStoreError:
        # Starting the stack would not help: the address came from --url, HMS_LOGS_URL or HMS_VICTORIALOGS_PORT.
        return LogStoreError(f"{self.url!r} is not a log store URL ({reason}): give one like http://127.0.0.1:9428 "
                             "(--url or HMS_LOGS_URL; or a port in HMS_VICTORIALOGS_PORT)")


def _query_error(body: str) -> LogQueryError:
    """VictoriaLogs' error text, shortened to the line that says what is wrong."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    detail = lines[0] if lines else "rejected"
    # "remoteAddr: ...; requestURI: ...; cannot parse query [...]: ..." -> keep the part after the request info.
    detail = re.sub(r"^remoteAddr:.*?; requestURI: [^;]*; ", "", detail)
    if len(detail) > _ERROR_CHARS:  # it can quote the whole query (the query arg length cannot exceed 16384 bytes)
        detail = f"{detail[:_ERROR_CHARS]}... ({len(detail)} characters)"
    return LogQueryError(f"the log store rejected the query: {safe_name(detail)}")


def _form(params: dict[str, Any]) -> bytes:
    """``params`` form-encoded; LogQueryError for text that is not valid UTF-8 (bytes a terminal passed
    through as lone surrogates), which no request can carry."""
    try:
        return urllib.parse.urlencode(params).encode()
    except UnicodeEncodeError as error:
        bad = error.object[error.start:error.end] if isinstance(error.object, str) else ""
        raise LogQueryError(f"the query is not valid UTF-8 ({safe_name(bad)} in it)") from None


def _wait_indefinitely(response: Any) -> None:
    """Let ``response`` wait for its body without a timeout (live tailing is quiet while nothing is logged).
    urllib keeps the socket only in the response's file object; there is no public way to it."""
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(None)
