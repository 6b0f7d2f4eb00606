"""The webhook signature scheme, and only here, so that it can change in one place.

`Timemoto-Signature` carries the hex HMAC-SHA256 of the raw request body, keyed with the shared
secret; upper or lower case, optionally prefixed `sha256=`. Several secrets may be valid at once
while one is being rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

HEADER = "Timemoto-Signature"
_PREFIX = "sha256="


def parse_secrets(value: str) -> tuple[str, ...]:
    """`TIMEMOTO_WEBHOOK_SECRET` holds one secret or several separated by commas."""
    return tuple(secret.strip() for secret in value.split(",") if secret.strip())


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    if not header:
        return False
    given = header.strip()
    if given[: len(_PREFIX)].lower() == _PREFIX:
        given = given[len(_PREFIX) :]
    given_bytes = given.lower().encode("utf-8", "replace")
    matched = False
    # Check every secret (no early exit) so timing says nothing about which one matched.
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given_bytes)
    return matched
