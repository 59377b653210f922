"""Local servers speaking the providers' real APIs (Twilio Messages, Teams Workflows, Slack incoming
webhooks), recording every request exactly as received, with scripted answers to test retries."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


TWILIO_CREATED = Answer(201, json.dumps({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}).encode(),
                        (("Content-Type", "application/json"),))
TEAMS_ACCEPTED = Answer(202)
SLACK_OK = Answer(200, b"ok", (("Content-Type", "text/html"),))
#: Teams Workflows' limit on a posted message ("about 28 KB", learn.microsoft.com/connectors/teams: "Request
#: Entity too large" past it), and its answer then, in Power Automate's error shape.
TEAMS_MAX_BODY = 28 * 1024
TEAMS_TOO_LARGE = Answer(413, json.dumps({"error": {"code": "RequestEntityTooLarge", "message": (
    "The request content length exceeds the maximum allowed size of 28 KB.")}}).encode(),
    (("Content-Type", "application/json"),))


class StandIn:
    """``StandIn(default, script=[Answer(503), ...])``: answers ``script`` in order, then ``default``;
    with ``hold``, each answer waits (up to 30 s) until that event is set: a provider that hangs; with
    ``too_large``, a body over its byte count gets that answer, as the provider refuses it."""

    def __init__(self, default: Answer, script: list[Answer] | None = None, port: int = 0,
                 hold: threading.Event | None = None, too_large: tuple[int, Answer] | None = None) -> None:
        self.default = default
        self.hold = hold
        self.too_large = too_large
        self.script = list(script or [])
        self.received: list[Received] = []
        self.accepted: list[Received] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(time.monotonic(), "POST", self.path, headers, body)
                with stand_in._lock:
                    answer = stand_in.script.pop(0) if stand_in.script else stand_in.default
                    if stand_in.too_large is not None and len(body) > stand_in.too_large[0]:
                        answer = stand_in.too_large[1]
                    stand_in.received.append(request)
                    if answer.status < 300:
                        stand_in.accepted.append(request)
                if stand_in.hold is not None:
                    stand_in.hold.wait(30)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.accepted)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
