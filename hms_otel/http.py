"""The few HTTP calls hms-ops makes (readiness, reloads, queries), with the standard library only."""

from __future__ import annotations

import json
import socket
from typing import Any

# urllib (with http.client, email and ssl) is imported by the functions that need it: readiness
# probes, which `hms-ops up` runs in a tight loop and keeps running at rest, only need a socket.


class HTTPError(RuntimeError):
    """A request failed or answered non-2xx; the message has the URL, status and body."""

    def __init__(self, url: str, status: int | None, body: str) -> None:
        what = f"HTTP {status}: " if status else "" if body.startswith(NOT_A_URL) else "no answer: "
        super().__init__(f"{url}: {what}{body.strip()[:2000]}")
        self.status = status
        self.body = body


def request(
    method: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> bytes:
    """Send one request and return the body; raise :class:`HTTPError` unless the status is 2xx.

    Credentials in the URL (``http://user:password@host:port/...``, as `hms-ops up`
    prints Alertmanager's) are sent as Basic auth and left out of error messages.
    """
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
        with urllib.request.urlopen(req, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        raise HTTPError(url, error.code, error.read().decode(errors="replace")) from None
    except (urllib.error.URLError, OSError) as error:
        raise HTTPError(url, None, str(getattr(error, "reason", error))) from None
    except (ValueError, http.client.InvalidURL) as error:
        # A URL from an option or a variable ("http://[::1", a port that is no number, no scheme): a
        # message naming it, not an internal error.
        raise HTTPError(url, None, f"{NOT_A_URL}({error})") from None
    except http.client.HTTPException as error:  # something answered, but not HTTP
        raise HTTPError(url, None, f"no HTTP answer ({type(error).__name__}: {error})") from None


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
