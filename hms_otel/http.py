"""The few HTTP calls hms-ops makes (readiness, reloads, queries), with the standard library only."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

# urllib (with http.client, email and ssl) is imported by the functions that need it: readiness
# probes, which `hms-ops up` runs in a tight loop and keeps running at rest, only need a socket.


class HTTPError(RuntimeError):
    """A request failed or answered non-2xx; the message has the URL, status and body."""

    #: What the message says before the reason when no status came (the subclasses say it all themselves).
    no_status = "no answer: "

    def __init__(self, url: str, status: int | None, body: str) -> None:
        what = f"HTTP {status}: " if status else "" if body.startswith(NOT_A_URL) else self.no_status
        super().__init__(f"{url}: {what}{body.strip()[:2000]}")
        self.status = status
        self.body = body


class AnswerTooBig(HTTPError):
    """The answer went on past ``max_bytes`` (a server sending without end): not read further."""

    no_status = ""


class AnswerTooSlow(HTTPError):
    """The whole request and answer took longer than the deadline (a server sending a byte now and then)."""

    no_status = ""


#: The largest answer :func:`request` reads unless told otherwise; no API hms-ops calls sends more.
MAX_ANSWER_BYTES = 64 * 2**20
#: How long a whole request may take, as a multiple of ``timeout`` (which bounds each wait for the network).
DEADLINE_TIMEOUTS = 3


def request(
    method: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_ANSWER_BYTES,
    deadline: float | None = None,
) -> bytes:
    """Send one request and return the body; raise :class:`HTTPError` unless the status is 2xx.

    ``timeout`` bounds each wait for the network; ``deadline`` (default ``3 * timeout``) the whole request and
    answer, and ``max_bytes`` the answer's size: a server that keeps sending, or sends a byte a second, raises
    :class:`AnswerTooBig` or :class:`AnswerTooSlow` instead of filling memory or holding the caller forever.

    Credentials in the URL (``http://user:password@host:port/...``, as `hms-ops up`
    prints Alertmanager's) are sent as Basic auth and left out of error messages.
    """
    limits = _Limits(max_bytes, deadline if deadline is not None else DEADLINE_TIMEOUTS * timeout)
    try:
        return _request(method, url, params, data, headers, timeout, limits)
    finally:
        limits.stop()


def _request(method: str, url: str, params: dict[str, Any] | None, data: bytes | None,
             headers: dict[str, str] | None, timeout: float, limits: _Limits) -> bytes:
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None:
            # urllib would take "user:password@host" for the host's name; an explicit header wins.
            credentials = basic_auth(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
            headers = {**credentials, **(headers or {})}
            url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        with limits.opener().open(req, timeout=timeout) as response:
            return _read(response, url, limits)
    except urllib.error.HTTPError as error:
        raise HTTPError(url, error.code, _error_body(error, url, limits)) from None
    except HTTPError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        if limits.expired:  # the timer shut the connection: whatever broke then, the deadline is why
            raise limits.too_slow(url) from None
        if isinstance(error, http.client.InvalidURL):
            raise HTTPError(url, None, f"{NOT_A_URL}({error})") from None
        if isinstance(error, http.client.HTTPException):  # something answered, but not HTTP
            raise HTTPError(url, None, f"no HTTP answer ({type(error).__name__}: {error})") from None
        raise HTTPError(url, None, str(getattr(error, "reason", error))) from None
    except ValueError as error:
        # A URL from an option or a variable ("http://[::1", a port that is no number, no scheme): a
        # message naming it, not an internal error.
        raise HTTPError(url, None, f"{NOT_A_URL}({error})") from None


def open_answer(req: Any, timeout: float, deadline: float) -> Any:
    """``urlopen(req, timeout=timeout)``, with connecting and the answer's headers bounded by ``deadline``
    seconds in all (a server sending its headers a byte at a time is cut off); the answer is returned open
    and read without a deadline (a live tail). Raises what ``urlopen`` raises, or :class:`AnswerTooSlow`."""
    import urllib.error

    limits = _Limits(0, deadline)
    try:
        response = limits.opener().open(req, timeout=timeout)
    except Exception as error:  # broken by the timer (but an error status that came, came in time)
        if limits.expired and not isinstance(error, urllib.error.HTTPError):
            raise limits.too_slow(req.full_url) from None
        raise
    finally:
        limits.stop()
    if limits.expired:  # the timer fired as the headers came: its connection is shut
        response.close()
        raise limits.too_slow(req.full_url)
    return response


class _Limits:
    """A request's answer size limit and deadline (from when it was made).

    The body is read a piece at a time and the deadline checked after each (:func:`_read`), but urllib
    waits inside itself too: for the connection and for the answer's headers, each read bounded only by
    ``timeout`` (headers a byte every 0.2 s never ended). So a timer also keeps the deadline: at it, the
    request's connection is shut, which ends any wait, and the request fails as :class:`AnswerTooSlow`.
    """

    def __init__(self, max_bytes: int, seconds: float) -> None:
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.give_up = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        # Started with the first connection: a request refused before connecting costs no thread.
        self._timer: threading.Timer | None = None

    def too_slow(self, url: str) -> AnswerTooSlow:
        return AnswerTooSlow(url, None, f"the answer took over {self.seconds:g} s (not read further)")

    def opener(self) -> Any:
        """A urllib opener whose connections this deadline watches."""
        import urllib.request

        handlers = [type(f"Watched{base.__name__}", (_WatchedConnections, base), {"limits": self})()
                    for base in (urllib.request.HTTPHandler, urllib.request.HTTPSHandler)]
        return urllib.request.build_opener(*handlers)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self._timer is None and not self.expired:
                self._timer = threading.Timer(max(0.0, self.give_up - time.monotonic()), self._expire)
                self._timer.daemon = True
                self._timer.start()
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._sockets.clear()


class _WatchedConnections:
    """A urllib handler mix-in: every connection it makes is watched by ``limits`` (see :class:`_Limits`)."""

    limits: _Limits

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        limits = self.limits

        def connection(*args: Any, **options: Any) -> Any:
            made = http_class(*args, **options)
            connect = made.connect

            def watched_connect() -> None:
                if limits.expired:
                    raise TimeoutError("the deadline passed before connecting")
                # Connecting waits at most the time left, not a whole `timeout` past the deadline.
                if isinstance(made.timeout, (int, float)):
                    made.timeout = max(0.001, min(made.timeout, limits.give_up - time.monotonic()))
                connect()
                limits.watch(made.sock)

            made.connect = watched_connect
            return made

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc]


def _shut(sock: socket.socket) -> None:
    """End every wait on ``sock`` (another thread's read returns at once). The plain socket's shutdown, also
    for TLS: the TLS socket's own would drop its state under the reading thread."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # already closed or never connected
        pass


def _error_body(error: Any, url: str, limits: _Limits) -> str:
    """What a non-2xx answer says, as far as it comes (it only goes into a message, cut to 2000 characters)."""
    import http.client

    if getattr(error, "fp", None) is None:
        return str(error.reason)
    limits.max_bytes = min(limits.max_bytes, 65536)
    try:
        return _read(error, url, limits, quiet=True).decode(errors="replace")
    except (OSError, http.client.HTTPException):
        return str(error.reason)


def _read(response: Any, url: str, limits: _Limits, *, quiet: bool = False) -> bytes:
    """The body, a piece at a time, checking the size and the deadline after each piece (``read()`` would
    take all a server sends, and its socket timeout only bounds each wait). ``quiet``: the body of an error
    answer, cut at the limits instead of refused."""
    chunks: list[bytes] = []
    size = 0
    while True:
        # read1: what has arrived (up to 64 KiB), not a wait for the whole 64 KiB a byte a second.
        chunk: bytes = response.read1(65536)
        if not chunk:
            if limits.expired and not quiet:  # the timer shut it: an answer read until closed is not whole
                raise limits.too_slow(url)
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limits.max_bytes:
            if quiet:
                return b"".join(chunks)[: limits.max_bytes]
            raise AnswerTooBig(url, None, f"the answer is over {_size(limits.max_bytes)} (not read further)")
        if time.monotonic() > limits.give_up:
            if quiet:
                return b"".join(chunks)
            raise limits.too_slow(url)


def _size(count: int) -> str:
    return f"{count / 2**20:g} MiB" if count >= 2**20 else f"{count} bytes"


#: How the reason of :class:`HTTPError` starts when the URL itself cannot be used.
NOT_A_URL = "not a valid URL "


def ok(url: str, timeout: float = 1.0, headers: dict[str, str] | None = None) -> bool:
    """True when ``url`` answers 2xx to a GET; any failure is False (readiness polls).

    Plain ``http://host:port/path`` URLs are probed with one HTTP/1.0 request on
    a socket (no urllib import, no connection pool); others go through :func:`request`.
    """
    host, port, path = _plain_http(url)
    if host is None:
        try:
            request("GET", url, timeout=timeout, headers=headers)
            return True
        except (HTTPError, ValueError):
            return False
    lines = [f"GET {path} HTTP/1.0", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    try:
        with _connect(host, port, timeout) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status_line = sock.recv(64).split(b"\r\n", 1)[0].split()
    except OSError:
        return False
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/"):
        return False
    if status_line[1].startswith(b"3"):  # a redirect (Prometheus' / -> /graph): follow it the full way
        try:
            request("GET", url, timeout=timeout, headers=headers)
            return True
        except (HTTPError, ValueError):
            return False
    return status_line[1].startswith(b"2")


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A connected socket; an IPv4 address (every probe of the local stack) is connected to directly.

    ``create_connection`` resolves even an address with getaddrinfo, whose first
    call loads the IDNA codec: about 8 ms of CPU while `hms-ops up` waits for
    its servers to start, which need it.
    """
    if host.count(".") == 3 and host.replace(".", "").isascii() and host.replace(".", "").isdigit():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((host, port), timeout=timeout)


def _plain_http(url: str) -> tuple[str | None, int, str]:
    """(host, port, path) of an ``http://host:port/path`` URL; host None for anything else."""
    if not url.startswith("http://"):
        return None, 0, ""
    authority, _, path = url[len("http://"):].partition("/")
    host, _, port = authority.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or "@" in authority or host.startswith("["):
        return None, 0, ""
    return host, int(port), "/" + path


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 10.0,
             headers: dict[str, str] | None = None) -> Any:
    return json.loads(request("GET", url, params=params, timeout=timeout, headers=headers))


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header for HTTP Basic auth."""
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
