"""A stand-in for Prometheus' HTTP API and ``/user/`` assets (test helper).

The page is served from a folder written by :func:`hms_otel.dashboards.site.write_site`; every
``/api/v1/...`` request goes to ``answer(path, params)``, which a test replaces to play a slow,
failing or odd Prometheus. Requests are recorded in :attr:`FakePrometheus.requests`.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: (HTTP status, JSON body or raw bytes, seconds to wait before answering).
Answer = tuple[int, Any, float]


def success(data: Any) -> Answer:
    return 200, {"status": "success", "data": data}, 0.0


def vector(*series: tuple[dict[str, str], str]) -> Any:
    return {"resultType": "vector", "result": [{"metric": m, "value": [time.time(), v]} for m, v in series]}


def matrix(params: dict[str, str], *series: tuple[dict[str, str], Callable[[int], str]]) -> Any:
    """A range answer on the asked steps; each series' value at step index i is ``values(i)``."""
    start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
    times = [start + i * step for i in range(int((end - start) // step) + 1)]
    return {"resultType": "matrix",
            "result": [{"metric": m, "values": [[t, values(i)] for i, t in enumerate(times)]} for m, values in series]}


def quiet(path: str, params: dict[str, str]) -> Answer:
    """Prometheus with no data and no alert."""
    if path == "/api/v1/alerts":
        return success({"alerts": []})
    if path == "/api/v1/query_range":
        return success({"resultType": "matrix", "result": []})
    return success({"resultType": "vector", "result": []})


class FakePrometheus:
    def __init__(self, site: Path) -> None:
        self.site = site
        self.answer: Callable[[str, dict[str, str]], Answer] = quiet
        self.requests: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.startswith("/user/"):
                    file = fake.site / parts.path.removeprefix("/user/")
                    if not file.is_file():
                        return self._send(404, b"not found", "text/plain")
                    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                    return self._send(200, file.read_bytes(), kind)
                params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, params))
                status, body, delay = fake.answer(parts.path, params)
                time.sleep(delay)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self._send(status, data, "application/json")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the page navigated away

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.page_url = self.url + "/user/index.html"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakePrometheus:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def fake_prometheus(site: Path) -> Iterator[FakePrometheus]:
    server = FakePrometheus(site).start()
    try:
        yield server
    finally:
        server.stop()
