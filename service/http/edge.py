"""What every answer says about itself, and who the client is behind a reverse proxy.

- `secure_headers` (a Litestar `before_send` hook): every answer says `X-Content-Type-Options:
  nosniff` and `Referrer-Policy: no-referrer`, and its content type names one charset (Litestar
  appends `; charset=utf-8` to a `text/…` type that already has one).
- `client_address`: the peer's address, unless the peer is one of TRUSTED_PROXIES: then the
  address its `X-Forwarded-For` (or, without one, `Forwarded`) names. Read right to left, the
  first address that is not a trusted proxy is the client: what a client writes itself in those
  headers stands to the left of what the proxy adds, and is never believed. A proxy must set or
  clear both headers (the shipped nginx site sets the first and clears the second).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
UNKNOWN = "unknown"
_FORWARDED_FOR = re.compile(r'(?:^|;)\s*for="?([^";,]*)"?', re.IGNORECASE)


def networks(written: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as the settings hold it (checked there), as networks."""
    return tuple(ip_network(text, strict=False) for text in written)


def one_charset(content_type: bytes) -> bytes:
    """`text/html; charset=utf-8; charset=utf-8` -> `text/html; charset=utf-8`."""
    if content_type.lower().count(b"charset=") < 2:
        return content_type
    seen: set[bytes] = set()
    kept: list[bytes] = []
    for part in content_type.split(b";"):
        name = part.split(b"=", 1)[0].strip().lower()
        if name in seen:
            continue
        seen.add(name)
        kept.append(part.strip())
    return b"; ".join(kept)


async def secure_headers(message: Any, _: Any) -> None:
    if message["type"] != "http.response.start":
        return
    headers = [
        (name, one_charset(value) if name.lower() == b"content-type" else value)
        for name, value in message.get("headers", ())
    ]
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in SECURITY_HEADERS if header[0] not in present)
    message["headers"] = headers


def _address(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # Forwarded: "[2001:db8::1]:4711"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # Forwarded: "192.0.2.60:4711"
        text = text.partition(":")[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def forwarded_chain(headers: Mapping[str, str]) -> list[str]:
    """The addresses the proxy headers name, nearest client first… as written, left to right."""
    xff = headers.get("x-forwarded-for")
    if xff:
        return [part for part in xff.split(",") if part.strip()]
    forwarded = headers.get("forwarded")
    if forwarded:
        return [
            m.group(1)
            for element in forwarded.split(",")
            for m in [_FORWARDED_FOR.search(element)]
            if m
        ]
    return []


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, headers: Mapping[str, str], proxies: tuple[Network, ...]
) -> str:
    """The client's address: the peer's, or, from a trusted proxy, the one its headers name."""
    if peer is None:
        return UNKNOWN
    here = _address(peer)
    if not proxies or here is None or not _trusted(here, proxies):
        return peer
    for hop in reversed(forwarded_chain(headers)):
        named = _address(hop)
        if named is None:
            return peer  # garbled by someone: the proxy is all we know
        if not _trusted(named, proxies):
            return str(named)
        here = named
    return str(here)


class UntrustedProxyNotice:
    """Says once that proxy headers were ignored: the operator may have forgotten TRUSTED_PROXIES
    behind nginx, and then every client looks like nginx to the operators' rate limit. Once per
    process, not per peer: anyone may send those headers."""

    def __init__(self) -> None:
        self.said = False

    def check(
        self, peer: str | None, headers: Mapping[str, str], proxies: tuple[Network, ...]
    ) -> None:
        if self.said or peer is None:
            return
        if "x-forwarded-for" not in headers and "forwarded" not in headers:
            return
        here = _address(peer)
        if here is not None and _trusted(here, proxies):
            return
        self.said = True
        log.warning(
            "proxy headers from %s ignored (not in TRUSTED_PROXIES); if it is your reverse proxy, "
            "set TRUSTED_PROXIES=%s, else every client behind it counts as one",
            peer,
            peer,
        )
