"""Which hosts a ``webhook:`` action may reach: not this machine or private
networks (an alert file could otherwise aim Alertmanager or the notifier at a
local admin API), unless the operator allows the host by name."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
ALLOW_VARIABLE = "HMS_WEBHOOK_ALLOWED_HOSTS"


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private or address.is_reserved or address.is_unspecified or address.is_multicast:
        return "private"
    return None


#: IPv4 in the forms the resolver (inet_aton) also reads: 1 to 4 parts, each decimal, octal (0177) or hex (0x7f).
_NUMERIC_V4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.ASCII)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` names without a lookup: ``127.1``, ``2130706433``, ``0x7f000001`` and
    ``0177.0.0.1`` are all 127.0.0.1 to the resolver, so they are here too."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_V4.fullmatch(host):  # glibc's inet_aton also takes "1.2.3.4 anything"
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None  # e.g. a part too large: no address, so a name the resolver looks up


def url_problem(url: str) -> str | None:
    """Why ``url`` can never be posted to, or ``None``. Only http and https are ever opened: urllib's file:,
    data: and ftp: would "deliver" a webhook by reading a local file or the URL itself. The one check of a URL:
    at delivery, for a webhook target at /v1/alerts, and for every URL setting, from the file or the
    environment (:mod:`hms_otel.notify.config`)."""
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        return "it holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError as error:
        return f"it is not a URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http:// and https:// URLs are posted to"
    if not parts.hostname:
        return "it names no host"
    if "@" in parts.netloc:
        return "a user name or password in it is never sent"
    return None


def webhook_problem(url: str, allowed_hosts: Iterable[str], *, resolve: bool = False,
                    lookup: Callable[[str, None], Sequence[tuple[Any, ...]]] = socket.getaddrinfo) -> str | None:
    """Why ``url`` may not be called, or ``None``. ``resolve`` also checks what a name resolves to, with
    ``lookup`` (``getaddrinfo``'s signature: the notifier's is bounded by the attempt's deadline)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    allowed = {name.strip().lower() for name in allowed_hosts if name.strip()}
    if host in allowed:
        return None
    fix = f"; allow it with {ALLOW_VARIABLE}={host} (or webhook.allowed_hosts in the notifier config)"
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"webhook host {host} is this machine (loopback){fix}"
    literal = _address(host)
    if literal is not None:
        kind = _blocked(literal)
        spelled = host if str(literal) == host else f"{host} ({literal})"
        return f"webhook address {spelled} is {kind}{fix}" if kind else None
    if not resolve:
        return None
    try:
        infos = lookup(host, None)
    except OSError:
        return None  # unresolvable (or not in time): the delivery itself will fail and say so
    for info in infos:
        kind = _blocked(ipaddress.ip_address(info[4][0]))
        if kind:
            return f"webhook host {host} resolves to a {kind} address ({info[4][0]}){fix}"
    return None
