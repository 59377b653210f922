"""Which hosts a ``webhook:`` action may reach: not this machine or private
networks (an alert file could otherwise aim Alertmanager or the notifier at a
local admin API), unless the operator allows the host by name."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
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


def webhook_problem(url: str, allowed_hosts: Iterable[str], *, resolve: bool = False) -> str | None:
    """Why ``url`` may not be called, or ``None``. ``resolve`` also checks what a name resolves to."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    allowed = {name.strip().lower() for name in allowed_hosts if name.strip()}
    if host in allowed:
        return None
    fix = f"; allow it with {ALLOW_VARIABLE}={host} (or webhook.allowed_hosts in the notifier config)"
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"webhook host {host} is this machine (loopback){fix}"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        kind = _blocked(literal)
        return f"webhook address {host} is {kind}{fix}" if kind else None
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return None  # unresolvable: the delivery itself will fail and say so
    for info in infos:
        kind = _blocked(ipaddress.ip_address(info[4][0]))
        if kind:
            return f"webhook host {host} resolves to a {kind} address ({info[4][0]}){fix}"
    return None
