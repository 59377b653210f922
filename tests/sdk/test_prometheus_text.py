"""OPSAgent's /metrics text, written with the standard library, parses as Prometheus text."""

from __future__ import annotations

import concurrent.futures
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client.parser import text_string_to_metric_families

from hms_otel import metric, prometheus_text
from hms_otel.prometheus_text import CONTENT_TYPE, PrometheusTextReader, serve
from hms_otel.stack.builds import find_binary

from ..support import eventually
from .conftest import app_env


def test_text_parses_with_hms_names_labels_and_escaping() -> None:
    reader = PrometheusTextReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):
        with metric.timer("p_text_ms", channel="web"):
            pass
        metric.increment("p_text_total", 2, note='say "hi"\\n', **{"error.type": "KeyError"})
        metric.gauge("p_text_gauge", 0.5)
    server = serve(reader, 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        provider.shutdown()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    histogram = families["p_text_ms"]
    assert histogram.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name == "p_text_ms_bucket"}
    assert buckets["2000.0"] == 1 and buckets["+Inf"] == 1 and len(buckets) == 19
    counter = families["p_text"]  # the parser strips `_total` from a counter family's name
    assert counter.type == "counter"
    (sample,) = counter.samples
    assert sample.labels == {"note": 'say "hi"\\n', "error_type": "KeyError"}
    assert sample.value == 2
    assert families["p_text_gauge"].samples[0].value == 0.5
    assert "_milliseconds" not in text and "_total_total" not in text


# -- the /metrics server against hostile and unlucky clients -------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[tuple[PrometheusTextReader, ThreadingHTTPServer]]:
    """A reader with one counter, served on a free port; stopped at the end."""
    reader = PrometheusTextReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):
        metric.increment("p_served_total", 3)
    server = serve(reader, 0)
    try:
        yield reader, server
    finally:
        server.shutdown()
        server.server_close()
        provider.shutdown()


def _scrape(server: ThreadingHTTPServer, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.server_port}/metrics", method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _request_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "process_request_thread" in thread.name]


def test_head_answers_the_headers_of_a_scrape(endpoint) -> None:
    """HEAD (a load balancer's or an uptime checker's probe) was answered 501 Unsupported method."""
    _, server = endpoint
    status, headers, body = _scrape(server, "HEAD")
    assert status == 200 and body == b""
    assert headers["Content-Type"] == CONTENT_TYPE and int(headers["Content-Length"]) > 0


def test_a_client_gone_mid_answer_prints_no_traceback_on_the_apps_stderr(endpoint, capfd) -> None:
    """A scraper that times out and closes (Prometheus at its scrape_timeout) printed socketserver's
    'Exception occurred during processing of request' and a ConnectionResetError traceback on the app's
    stderr, once per scrape."""
    reader, server = endpoint
    reader.render = lambda: "p_big 1\n" * 500_000  # type: ignore[method-assign]  # 4 MB: more than socket buffers
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as client:
            client.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            client.recv(100)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    eventually(lambda: not _request_threads(), 30, "the request threads to end")
    assert _scrape(server)[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


def test_a_render_that_fails_answers_500_and_logs_one_line(endpoint, capfd, caplog) -> None:
    reader, server = endpoint

    def broken(timeout_millis: float = 10_000) -> None:
        raise ValueError("no text today")

    reader.collect = broken  # type: ignore[method-assign]
    status, _, _ = _scrape(server)
    eventually(lambda: not _request_threads(), 30, "the request thread to end")
    assert status == 500  # it closed the connection without an answer
    assert "ValueError: no text today" in caplog.text
    assert "Traceback" not in capfd.readouterr().err


def test_slow_clients_neither_hold_a_thread_each_nor_lock_scrapes_out(endpoint) -> None:
    """Each connection held a thread of the app for as long as its client liked (no timeout at all): 200
    connections sending a byte now and then were 200 threads, and stayed after stop()."""
    _, server = endpoint
    slow = [socket.create_connection(("127.0.0.1", server.server_port), timeout=10) for _ in range(100)]
    try:
        for client in slow:
            client.sendall(b"G")
        status, _, body = _scrape(server)
        assert status == 200 and b"p_served_total 3.0" in body
        threads = len(_request_threads())
        assert threads < 100, threads
        assert threads <= prometheus_text.MAX_CONNECTIONS
    finally:
        for client in slow:
            client.close()


def test_a_request_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(endpoint) -> None:
    """The socket timeout bounds each wait only: a byte every 0.25 s kept a connection (and its thread)
    forever. It is cut off after REQUEST_SECONDS (10 s)."""
    _, server = endpoint
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as client:
        sent, request = 0, b"GET /metrics HTTP/1.0\r\nX-Slow: " + b"y" * 100
        try:
            for byte in request:
                client.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.25)
        except OSError:  # cut off: the server closed the connection
            pass
        assert sent < len(request), "the server was still reading the request after 30 s"


def test_concurrent_scrapes_share_one_collection(endpoint) -> None:
    """Each of 200 concurrent scrapes collected in turn: with 10 000 series, 56 s for the last one (past
    Prometheus' 10 s timeout) and the app's facade calls 4x slower meanwhile."""
    reader, server = endpoint
    collections = []
    collect = reader.collect

    def slow_collect(timeout_millis: float = 10_000) -> None:
        collections.append(1)
        time.sleep(0.3)
        collect(timeout_millis)

    reader.collect = slow_collect  # type: ignore[method-assign]
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda _: _scrape(server), range(30)))
    assert all(status == 200 and b"p_served_total 3.0" in body for status, _, body in answers)
    assert len(collections) < 10, len(collections)


_FORKED = """
import os, select, signal, socket
from hms_otel import OPSAgent
agent = OPSAgent(port=0, service_name="forked", shutdown_timeout=1).start()
port = agent._server.server_port
stopped, release = os.pipe(), os.pipe()
child = os.fork()
if child == 0:
    agent.stop()                                   # a worker's own clean-up: it hung here for good
    os.write(stopped[1], b"s")
    os.read(release[0], 1)                         # and lives on, as a worker does
    os._exit(0)
try:
    print("child stopped" if select.select([stopped[0]], [], [], 20)[0] else "child hung in stop()")
    agent.stop()
    with socket.socket() as again:                 # the parent stopped: the child's copy held the port bound
        try:
            again.bind(("127.0.0.1", port))
            print("port free")
        except OSError as error:
            print("port held:", error.strerror)
finally:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
"""


def test_a_forked_child_stops_its_agent_and_does_not_hold_the_parents_port() -> None:
    """A forked worker's agent.stop() waited for ever for a server loop that runs in the parent only; and
    the listening socket the child inherited kept the port bound (connections queued, never answered)
    after the parent stopped."""
    env = app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    env.pop("HMS_OPSAGENT_PORT", None)
    result = subprocess.run([sys.executable, "-c", _FORKED], env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["child stopped", "port free"], result.stdout + result.stderr


# -- what the text holds: valid for promtool, and the labels the HMS collector makes ------------------------

#: Attributes that Prometheus label names cannot hold as they are, and values that are no strings; the
#: labels are what the HMS collector (v0.161) wrote into Prometheus for them, checked with the real stack.
HOSTILE_ATTRIBUTES = {
    "1abc": "d", "_x": "u", "__y": "uu", "a.b": "dot", "a_b": "under", "a..b": "dd", "café": "c",
    "flag": True, "num": 1.0, "big": 1e21, "seq": ("a", "b"), "ints": [1, 2], "q": 'say "hi"\n',
}
COLLECTOR_LABELS = {
    "key_1abc": "d", "key_x": "u", "key_y": "uu", "a_b": "dd;dot;under", "caf_": "c", "flag": "true", "num": "1",
    "big": "1e+21", "seq": '["a","b"]', "ints": "[1,2]", "q": 'say "hi"\n',
}


def _promtool_problems(text: str) -> list[str]:
    """What `promtool check metrics` says of ``text``, but its lint of metrics without a description (exit
    3): the facades' own metrics have none, and Prometheus needs none."""
    checked = subprocess.run([str(find_binary("promtool")), "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=60)
    problems = [line for line in checked.stderr.splitlines() if not line.endswith(" no help text")]
    if checked.returncode not in (0, 3) and not problems:
        problems.append(f"exit {checked.returncode}")
    return problems


def _render(record: Callable[[], None], *scopes: str) -> str:
    reader = PrometheusTextReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        with metric.use(meter_provider=provider):
            record()
        for scope in scopes:
            provider.get_meter(scope, "1.2").create_counter("p_shared_total").add(5)
        return reader.render()
    finally:
        provider.shutdown()


def test_attribute_names_and_values_become_the_labels_the_collector_makes() -> None:
    """An attribute starting with a digit wrote `{1abc="d"}`: no label name, so Prometheus refused the
    whole scrape (promtool: "invalid label name"); `a.b` and `a_b` were two labels `a_b`, one lost;
    True, 1.0 and ('a', 'b') were written `True`, `1.0`, `('a', 'b')` where the collector writes `true`,
    `1`, `["a","b"]`, so a query that matched the collector's series found nothing here."""
    text = _render(lambda: metric.increment("p_hostile_total", 1, **HOSTILE_ATTRIBUTES))
    assert not _promtool_problems(text), text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "p_hostile"]
    (sample,) = family.samples
    assert sample.labels == COLLECTOR_LABELS


def test_one_name_from_two_scopes_is_one_family_with_the_scopes_apart() -> None:
    """The app's counter and a layer's counter of the same name were two `# TYPE` blocks (promtool:
    "second TYPE line") with the same series twice (Prometheus kept one of them)."""
    text = _render(lambda: metric.increment("p_shared_total", 2), "hms_instrumentation_ach")
    assert not _promtool_problems(text), text
    assert text.count("# TYPE p_shared_total counter") == 1
    samples = {s.labels["otel_scope_name"]: s.value for f in text_string_to_metric_families(text)
               for s in f.samples if s.name == "p_shared_total"}
    assert samples == {"hms_otel": 2, "hms_instrumentation_ach": 5}


def test_clients_that_do_not_take_their_answer_give_their_place_up(monkeypatch) -> None:
    """Clients that sent a request and then read nothing (or a byte a second) held every place for 30 s
    each: a scrape meanwhile was refused."""
    monkeypatch.setattr(prometheus_text, "MAX_CONNECTIONS", 4)
    monkeypatch.setattr(prometheus_text, "STALLED_ANSWER_SECONDS", 0.5, raising=False)
    reader = PrometheusTextReader()
    body = "p_big 1\n" * 1_000_000  # 8 MB: more than the socket buffers of a client that reads nothing
    reader.render = lambda: body  # type: ignore[method-assign]
    server = serve(reader, 0)
    stalled = []
    try:
        for _ in range(4):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", server.server_port))
            client.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            stalled.append(client)
        time.sleep(1)  # the stalled answers are older than STALLED_ANSWER_SECONDS
        status, _, answer = _scrape(server)
        assert status == 200 and len(answer) == len(body)
    finally:
        for client in stalled:
            client.close()
        server.shutdown()
        server.server_close()


_FORKED_MID_REQUEST = """
import os, socket, time
from hms_otel import OPSAgent
agent = OPSAgent(port=0, service_name="forked", shutdown_timeout=1).start()
client = socket.create_connection(("127.0.0.1", agent._server.server_port), timeout=10)
client.sendall(b"GET /metr")                    # a scrape under way in the parent as the child is forked
time.sleep(0.1)
child = os.fork()
if child == 0:
    agent.stop()
    os._exit(0)
os.waitpid(child, 0)
client.sendall(b"ics HTTP/1.0\\r\\n\\r\\n")
answer = b""
while chunk := client.recv(65536):
    answer += chunk
print(answer.split(b"\\r\\n", 1)[0].decode())
agent.stop()
"""


def test_a_forked_childs_stop_leaves_the_parents_scrapes_alone() -> None:
    """The child's stop() shut the connections the parent was serving (shared with the child at fork)."""
    env = app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    env.pop("HMS_OPSAGENT_PORT", None)
    result = subprocess.run([sys.executable, "-c", _FORKED_MID_REQUEST], env=env, capture_output=True, text=True,
                            timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "HTTP/1.0 200 OK", result.stdout + result.stderr
