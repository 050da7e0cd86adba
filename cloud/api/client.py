"""Who is on the other end of a request: the connecting address and whether it came over TLS,
believing a proxy's X-Forwarded-For and X-Forwarded-Proto only when the proxy is trusted.

Never: read those headers from a peer outside ``ApiSettings.trusted_proxies``
(``SCENIC_TRUSTED_PROXIES``, default none). Anyone can write them; believed from anyone, the
audit log records the address an attacker chose and the login throttle counts it there.

Behind trusted proxies the client is the right-most X-Forwarded-For hop that is not itself a
trusted proxy: each proxy appends the address it saw, so everything left of that hop is the
client's own claim. ``scenic-cloud serve`` turns uvicorn's own proxy handling off, so this
module is the one place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from cloud.core.config import IpNetwork

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(scope: Mapping[str, Any], proxies: Iterable[IpNetwork]) -> str:
    """The address to audit and throttle for this ASGI request (at most 64 characters)."""
    peer = (scope.get("client") or ("?", 0))[0]
    proxies = tuple(proxies)
    if not _trusted(_parse(peer), proxies):
        return str(peer)[:64]
    address = peer
    for hop in reversed(_header_items(scope, b"x-forwarded-for")):
        parsed = _parse(hop)
        if parsed is None:  # not an address: stop at the last hop a trusted proxy wrote
            break
        address = str(parsed)
        if not _trusted(parsed, proxies):
            break
    return str(address)[:64]


def came_over_tls(scope: Mapping[str, Any], proxies: Iterable[IpNetwork]) -> bool:
    """Whether the browser's connection was TLS: this one, or a trusted proxy's in front."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    peer = (scope.get("client") or ("?", 0))[0]
    if not _trusted(_parse(peer), tuple(proxies)):
        return False
    said = _header_items(scope, b"x-forwarded-proto")
    return bool(said) and said[-1].lower() == "https"


def _header_items(scope: Mapping[str, Any], name: bytes) -> list[str]:
    """Every comma-separated item of every header ``name``, in order."""
    items: list[str] = []
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            items.extend(item.strip() for item in value.decode("latin-1").split(","))
    return [item for item in items if item]


def _parse(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None, proxies: tuple[IpNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)
