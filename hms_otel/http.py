"""The few HTTP calls hms-ops makes (readiness, reloads, queries), with the standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class HTTPError(RuntimeError):
    """A request failed or answered non-2xx; the message has the URL, status and body."""

    def __init__(self, url: str, status: int | None, body: str) -> None:
        super().__init__(f"{url}: {'HTTP ' + str(status) if status else 'no answer'}: {body.strip()[:2000]}")
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
    """Send one request and return the body; raise :class:`HTTPError` unless the status is 2xx."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        raise HTTPError(url, error.code, error.read().decode(errors="replace")) from None
    except (urllib.error.URLError, OSError) as error:
        raise HTTPError(url, None, str(getattr(error, "reason", error))) from None


def ok(url: str, timeout: float = 1.0, headers: dict[str, str] | None = None) -> bool:
    """True when ``url`` answers 2xx to a GET; any failure is False (readiness polls)."""
    try:
        request("GET", url, timeout=timeout, headers=headers)
        return True
    except (HTTPError, ValueError):
        return False


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 10.0,
             headers: dict[str, str] | None = None) -> Any:
    return json.loads(request("GET", url, params=params, timeout=timeout, headers=headers))


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header for HTTP Basic auth."""
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
