"""The client's IP address, as rate limits see it.

From the ASGI scope's peer address. `X-Forwarded-For` is believed only when the peer is a
trusted proxy (GAVEL_TRUSTED_PROXIES, off by default): then the address is the right-most
entry of the header that is not itself a trusted proxy, since every proxy appends the
address it saw and a client can forge only the entries left of its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """'10.0.0.1, 10.1.0.0/16, ::1' -> networks. Raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def address_in(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether `address` (an IP, or None/a name when the peer is unknown: never) is in
    one of `networks`."""
    return address is not None and _trusted(address, networks)


@lru_cache(maxsize=8192)  # parsing costs microseconds on the bid path; clients repeat
def limit_key(ip: str) -> str:
    """The address a per-address limit counts: an IPv6 client usually holds a whole /64
    (and can pick any address in it), so IPv6 addresses count by their /64; an
    IPv4-mapped IPv6 address counts as its IPv4 address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an IP (a test client's name, a unix socket): as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_ip(scope: Mapping[str, Any], proxies: tuple[Network, ...] = ()) -> str | None:
    """The client's address, or None when the server does not know its peer."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    for hop in reversed(forwarded):
        if not _trusted(hop, proxies):
            return hop
    return forwarded[0] if forwarded else peer
