"""Serve the process's metrics as Prometheus text, under the HMS names.

The upstream OTel Prometheus exporter appends unit suffixes
(``payment_latency_ms_milliseconds``); dashboards and alert files use the
contract names, so this reader translates the way the HMS collector does
(``UnderscoreEscapingWithoutSuffixes``). The text exposition format (0.0.4) is
written here with the standard library, so a service's ``/metrics`` needs no
dependency beyond the OpenTelemetry SDK.
"""

from __future__ import annotations

import base64
import decimal
import functools
import io
import json
import logging
import math
import os
import re
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricReader,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Gauge as GaugeData,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from opentelemetry.sdk.metrics.export import Metric as MetricData
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from hms_otel._fastpath_readers import FacadeMergingReader
from hms_otel._sdk_internals import SdkGauge as Gauge
from hms_otel.registry import prometheus_label, prometheus_name

_log = logging.getLogger("hms_otel")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_CUMULATIVE = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (Counter, UpDownCounter, Histogram, Gauge, ObservableCounter, ObservableUpDownCounter,
                 ObservableGauge)
}


class _LatestReader(MetricReader):
    """A pull reader that keeps its latest collection."""

    def __init__(self) -> None:
        super().__init__(preferred_temporality=_CUMULATIVE)  # type: ignore[arg-type]  # SDK stubs: type keys
        self._latest: MetricsData | None = None
        self._render_lock = threading.Lock()
        # One render at a time; scrapes arriving meanwhile take its text (see PrometheusTextReader.render).
        self._render_done = threading.Condition()
        self._rendering = False
        self._renders = 0
        self._rendered: str | BaseException = ""

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._latest = None


class PrometheusTextReader(FacadeMergingReader, _LatestReader):
    """A pull reader (with the facades' metrics) that renders what it collects as Prometheus text."""

    def render(self) -> str:
        """Collect now and return the exposition text.

        Scrapes that arrive while a render runs wait for it and share its text instead of each collecting
        again in turn: 200 concurrent scrapes of 10 000 series took 56 s (each holding the GIL from the
        app for a 0.28 s collection, the app's facade calls 4x slower meanwhile) and every one past the
        first 35 outlived Prometheus' 10 s scrape timeout. Raises what the render raised, to each of them.
        """
        with self._render_done:
            if self._rendering:
                started = self._renders
                while self._renders == started:
                    self._render_done.wait()
                return self._outcome()
            self._rendering = True
        rendered: str | BaseException
        try:
            rendered = self._render_now()
        except Exception as error:
            rendered = error
        with self._render_done:
            self._rendered = rendered
            self._rendering = False
            self._renders += 1
            self._render_done.notify_all()
            return self._outcome()

    def _outcome(self) -> str:
        if isinstance(self._rendered, BaseException):
            raise self._rendered
        return self._rendered

    def _render_now(self) -> str:
        with self._render_lock:
            self.collect()
            data = self._latest
            return "" if data is None else exposition(data)


#: Seconds a client has to send its request line and headers (Prometheus sends them in one packet). A
#: slow client (slowloris: a byte a second) is cut off at this deadline, not only after a silent gap.
REQUEST_SECONDS = 10.0
#: Seconds the answer may take to be sent (a client that stops reading).
ANSWER_SECONDS = 30.0
#: Connections served at once; more are closed at once: each holds a thread of the app's process.
MAX_CONNECTIONS = 32
#: A connection still sending its request after this long gives its place up when all are taken.
STALLED_SECONDS = 0.25
#: A connection still taking its answer after this long gives its place up when all are taken (a client
#: reading a byte a second); a scrape of 10 000 series takes its 300 KB in milliseconds.
STALLED_ANSWER_SECONDS = 5.0
#: The request line and headers a scrape may send (Prometheus sends well under 1 KiB).
MAX_REQUEST_BYTES = 64 * 1024

_servers: weakref.WeakSet[_MetricsServer] = weakref.WeakSet()
_fork_hook_lock = threading.Lock()
_fork_hook_registered = False


class _MetricsServer(ThreadingHTTPServer):
    """The /metrics server: connections bounded in number and time, and nothing of a client's (a reset
    mid-answer, a request it never finishes) printed on the app's stderr."""

    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 overflowed with 200 scrapers connecting at once

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner_pid = os.getpid()
        self.refused = 0
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        # Connections still sending their request, and connections still taking their answer, oldest first,
        # with when that began: the ones given up when all slots are taken.
        self._reading: dict[socket.socket, float] = {}
        self._writing: dict[socket.socket, float] = {}
        self._reading_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # All slots taken: a connection still sending its request after a second (a slow or idle client)
        # makes room, so slow clients cannot lock scrapes out; a scrape sends its request at once.
        give_up = time.monotonic() + 1.0
        while not self._slots.acquire(blocking=False):
            # A stalled reader's thread frees its slot as soon as it is shut; otherwise wait for a scrape.
            wait = 0.5 if self._give_up_a_stalled_reader() else 0.05
            if self._slots.acquire(timeout=wait):
                break
            if time.monotonic() > give_up:
                self.refused += 1
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread (the process is at its limit): the slot is not held by anyone
            self._slots.release()
            self.shutdown_request(request)
            raise

    def reading(self, connection: socket.socket, started: bool) -> None:
        self._track(self._reading, connection, started)

    def writing(self, connection: socket.socket, started: bool) -> None:
        self._track(self._writing, connection, started)

    def _track(self, phase: dict[socket.socket, float], connection: socket.socket, started: bool) -> None:
        with self._reading_lock:
            if started:
                phase[connection] = time.monotonic()
            else:
                phase.pop(connection, None)

    def server_close(self) -> None:
        super().server_close()
        with self._reading_lock:
            readers, self._reading = list(self._reading), {}
        for connection in readers:  # stopped: no request still coming is served (their threads end now)
            _shut(connection)

    def _give_up_a_stalled_reader(self) -> bool:
        """Shut the oldest connection still sending its request after :data:`STALLED_SECONDS`, or else
        still taking its answer after :data:`STALLED_ANSWER_SECONDS`, if any."""
        now = time.monotonic()
        with self._reading_lock:
            for phase, grace in ((self._reading, STALLED_SECONDS), (self._writing, STALLED_ANSWER_SECONDS)):
                oldest = next(iter(phase.items()), None)
                if oldest is not None and now - oldest[1] >= grace:
                    del phase[oldest[0]]
                    break
            else:
                return False
        _shut(oldest[0])  # its recv or send returns at once; its thread ends and frees its slot
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client went away or stalled: its problem, not the app's
            return
        # socketserver's default prints a traceback on the app's stderr for each failed request.
        _log.warning("hms_otel: a /metrics request failed: %s: %s", type(error).__name__, error)

    def shutdown(self) -> None:
        if self.owner_pid != os.getpid():  # a forked child: serve_forever runs in the parent only
            return
        super().shutdown()

    def close_in_child(self) -> None:
        """In a forked child: let go of the parent's listening socket (the child does not serve it, and
        its copy kept the port bound after the parent stopped, connections waiting unanswered). The
        parent's connections are forgotten, not shut: a shutdown here would end them in the parent too."""
        self.socket.close()
        with self._reading_lock:
            inherited = [*self._reading, *self._writing]
            self._reading, self._writing = {}, {}
        for connection in inherited:
            connection.close()


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already
        pass


def _close_servers_in_child() -> None:
    for server in list(_servers):
        if server.owner_pid != os.getpid():
            server.close_in_child()


def _close_in_forked_children() -> None:
    global _fork_hook_registered
    with _fork_hook_lock:
        if not _fork_hook_registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_close_servers_in_child)
            _fork_hook_registered = True


class _Handler(BaseHTTPRequestHandler):
    reader: PrometheusTextReader
    timeout = ANSWER_SECONDS

    def setup(self) -> None:
        super().setup()
        server: _MetricsServer = self.server  # type: ignore[assignment]
        server.reading(self.connection, started=True)
        try:
            head = _read_head(self.connection, REQUEST_SECONDS, MAX_REQUEST_BYTES)
        finally:
            server.reading(self.connection, started=False)
        if head is None:
            self.close_connection = True
            self.rfile = io.BytesIO()  # no request line: handle() answers nothing and closes
            return
        self.rfile = io.BytesIO(head)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        if self.path.split("?", 1)[0] not in ("/metrics", "/"):
            self.send_error(404, "only /metrics is served here")
            return
        try:
            body = self.reader.render().encode()
        except Exception as error:
            _log.warning("hms_otel: /metrics could not be rendered: %s: %s", type(error).__name__, error)
            self.send_error(500, "hms_otel could not render the metrics; the app's log says why")
            return
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        server: _MetricsServer = self.server  # type: ignore[assignment]
        server.writing(self.connection, started=True)
        try:
            self.end_headers()
            if with_body:
                self.wfile.write(body)
        finally:
            server.writing(self.connection, started=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes are not the service's log


def _read_head(connection: socket.socket, seconds: float, limit: int) -> bytes | None:
    """The request line and headers, read within ``seconds`` in all; None when the client sends no
    whole head in time or sends more than ``limit`` bytes (then it is not read further)."""
    give_up = time.monotonic() + seconds
    head = b""
    while not _whole_head(head):
        left = give_up - time.monotonic()
        if left <= 0 or len(head) > limit:
            return None
        connection.settimeout(left)
        try:
            chunk = connection.recv(65536)
        except OSError:  # timed out or reset
            return None
        if not chunk:  # the client closed: what came (HTTP/0.9's bare request line) is the request
            return head or None
        head += chunk
    connection.settimeout(ANSWER_SECONDS)
    return head


def _whole_head(head: bytes) -> bool:
    if b"\r\n\r\n" in head or b"\n\n" in head:
        return True
    line, newline, _ = head.partition(b"\n")
    return bool(newline) and len(line.split()) == 2  # HTTP/0.9: a request line without a version, no headers


def serve(reader: PrometheusTextReader, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns the server."""
    handler = type("Handler", (_Handler,), {"reader": reader})
    # The address's own family: an IPv6 host ('::1', '::') failed with "Address family for hostname not
    # supported" on the IPv4 socket socketserver makes.
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server_class: type[_MetricsServer] = _MetricsServer if family == socket.AF_INET else type(
        "_MetricsServer6", (_MetricsServer,), {"address_family": family})
    server = server_class((host, port), handler)
    _close_in_forked_children()
    _servers.add(server)
    threading.Thread(target=server.serve_forever, name="hms-otel-metrics", daemon=True).start()
    return server


def exposition(data: MetricsData) -> str:
    """``data`` as Prometheus text, one ``# TYPE`` block per series name.

    The same name can come from several scopes (the app's ``metric.increment("ach_flagged_total")`` and
    the ACH layer's own counter) or from OTel names that differ only in what Prometheus cannot hold
    (``a.b_total``, ``a_b_total``): written as two blocks, promtool refused the whole text ("second TYPE
    line") and Prometheus kept one of two equal series. Such a name's series carry ``otel_scope_name``
    and ``otel_scope_version``, as the collector's series always do, which keeps the scopes apart; a
    name already taken by another kind (a counter and a gauge) is not written and is counted in
    ``hms_otel_dropped_total{signal="metrics",reason="name_conflict"}``.
    """
    families: dict[str, list[tuple[InstrumentationScope, MetricData]]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for item in scope_metrics.metrics:
                families.setdefault(prometheus_name(item.name), []).append((scope_metrics.scope, item))
    lines: list[str] = []
    for name, members in families.items():
        kind = _kind(name, members[0][1])
        if kind is None:
            continue  # exponential histograms have no classic text form
        kept = [(scope, item) for scope, item in members if _kind(name, item) == kind]
        if len(kept) < len(members):
            _count_conflict(name, kind, [item for _, item in members if _kind(name, item) != kind])
        scoped = len({(scope.name, scope.version) for scope, _ in kept}) > 1
        lines.append(f"# HELP {name} {_escape_help(kept[0][1].description or '')}\n")
        lines.append(f"# TYPE {name} {kind}\n")
        for scope, item in kept:
            extra = {"otel_scope_name": scope.name, "otel_scope_version": scope.version or ""} if scoped else {}
            lines.extend(_samples(name, item, extra))
    return "".join(lines)


def _kind(name: str, item: MetricData) -> str | None:
    data = item.data
    if isinstance(data, Sum) and data.is_monotonic:
        # HMS counter names carry `_total` already; one without it is left untyped.
        return "counter" if name.endswith("_total") else "untyped"
    if isinstance(data, (Sum, GaugeData)):
        return "gauge"
    if isinstance(data, HistogramData):
        return "histogram"
    return None


def _count_conflict(name: str, kind: str, dropped: list[MetricData]) -> None:
    from hms_otel.selfmetrics import count_dropped  # here: selfmetrics loads the facades

    points = sum(len(item.data.data_points) for item in dropped)
    others = ", ".join(sorted({repr(item.name) for item in dropped}))
    count_dropped("metrics", "name_conflict", points,
                  f"/metrics serves {name!r} as a {kind}; {others} of another kind has that Prometheus name too: "
                  "rename one of them")


def _samples(name: str, item: MetricData, extra: Mapping[str, str]) -> Iterator[str]:
    data = item.data
    if isinstance(data, HistogramData):
        for point in data.data_points:
            labels = {**_labels(point.attributes), **extra}
            cumulative = 0
            for bound, count in zip([*point.explicit_bounds, math.inf], point.bucket_counts, strict=True):
                cumulative += count
                yield _sample(f"{name}_bucket", {**labels, "le": _number(bound)}, cumulative)
            yield _sample(f"{name}_count", labels, point.count)
            yield _sample(f"{name}_sum", labels, point.sum)
    elif isinstance(data, (Sum, GaugeData)):
        for number_point in data.data_points:
            yield _sample(name, {**_labels(number_point.attributes), **extra}, number_point.value)


def _labels(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """The labels the HMS collector makes of ``attributes``: names as :func:`prometheus_label`, values as
    its text of each OTel type, and attributes that become one label name joined with ``;`` in the
    order of their keys (``a.b`` and ``a_b`` were two labels named ``a_b``, one silently lost)."""
    labels: dict[str, str] = {}
    for key, value in sorted((attributes or {}).items()):
        name, text = _label_name(key), label_value(value)
        labels[name] = f"{labels[name]};{text}" if name in labels else text
    return labels


#: Attribute keys are few and repeat in every point: each is translated once, not once per series.
_label_name = functools.lru_cache(maxsize=4096)(prometheus_label)


def label_value(value: Any) -> str:
    """An attribute value as the collector writes it in a label: ``true``, ``1`` for ``1.0``, a list as
    compact JSON, bytes as base64 (Python's ``str()`` wrote ``True``, ``1.0`` and ``('a', 'b')``, so a
    query that matched the collector's series found nothing on ``/metrics``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, bytes)):
        return _json_scalar(value)
    return json.dumps(_json_ready(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _json_scalar(value: bool | int | float | bytes) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return _shortest(value)


def _shortest(value: float) -> str:
    """A float as Go (and JavaScript) write it: the shortest digits, without exponent from 1e-6 to 1e21."""
    if math.isnan(value) or math.isinf(value):
        return _number(value)
    if value == 0:
        return "0"
    text = repr(value)
    if 1e-6 <= abs(value) < 1e21:
        return format(decimal.Decimal(text), "f").removesuffix(".0")
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", text)


def _json_ready(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value if isinstance(value, (str, bool, int, float)) or value is None else str(value)


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_number(value)}\n"
    pairs = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels.items())
    return f"{name}{{{pairs}}} {_number(value)}\n"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape_label(text: str) -> str:
    if "\\" not in text and "\n" not in text and '"' not in text:
        return text
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
