"""The operators' paths (docs/contract.md §6): behind HTTP Basic auth, or absent.

`ADMIN_PASSWORD` set: a request needs the user `admin` and that password (compared in constant
time), else 401 with `WWW-Authenticate: Basic`; a client address with `FAILURE_LIMIT` failures
within `FAILURE_WINDOW` seconds gets 429 with `Retry-After` until the oldest of them has left the
window (logged once, when it starts). Unset: the paths answer 404, as if they did not exist.

The address is the client's own: the peer's, or behind a proxy in TRUSTED_PROXIES the one its
`X-Forwarded-For` names (service/http/edge.py); a header the client writes itself is never
believed. So a guesser locks out only itself: the admin, from another address, is never refused.

The parts that decide (`credentials_match`, `FailureWindow`, `OperatorsGate.verdict`) need no
server; `OperatorsGate.guard` is the Litestar guard that applies the verdict. Routers holding the
operators' routes (the export now, a status page later) take that guard.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler

from service.http.edge import Network, UntrustedProxyNotice, client_address

log = logging.getLogger(__name__)

USER = "admin"
REALM = "timemoto-pointage"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
FAILURE_LIMIT = 5
FAILURE_WINDOW = 60.0  # seconds
MAX_ADDRESSES = 10_000  # the failure window forgets the least recent addresses beyond this


def credentials_match(authorization: str | None, password: str) -> bool:
    """An `Authorization: Basic …` header naming the user `admin` with `password`.

    Both the user and the password are compared in constant time, and both always are.
    """
    if not authorization:
        return False
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, colon, given = decoded.partition(b":")
    user_ok = hmac.compare_digest(user, USER.encode())
    password_ok = hmac.compare_digest(given, password.encode("utf-8"))
    return bool(colon) and user_ok and password_ok


class FailureWindow:
    """Failed attempts per client address within a sliding window (in memory, one process)."""

    def __init__(
        self,
        limit: int = FAILURE_LIMIT,
        window: float = FAILURE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._throttled: set[str] = set()  # said in the log, until their failures are forgotten

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            self._throttled.discard(address)
        return failures

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        now = self.clock()
        failures = self._recent(address, now)
        if len(failures) < self.limit:
            return None
        # Allowed again once all but limit - 1 of the failures have left the window.
        frees_at = failures[-self.limit] + self.window
        return max(1, math.ceil(frees_at - now))

    def failed(self, address: str) -> bool:
        """Count a failure; True when it starts the address's throttling (first time only, until
        its failures are all forgotten)."""
        now = self.clock()
        failures = self._recent(address, now)
        failures.append(now)
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            forgotten, _ = self._failures.popitem(last=False)
            self._throttled.discard(forgotten)
        if len(failures) >= self.limit and address not in self._throttled:
            self._throttled.add(address)
            return True
        return False

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Literal["allow", "absent", "unauthorized", "slow_down"]
    retry_after: int | None = None


class OperatorsGate:
    """The decision for one request to an operators' path, and the guard that enforces it."""

    def __init__(
        self,
        password: str | None,
        failures: FailureWindow | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.password = password or None
        self.failures = failures or FailureWindow()
        self.trusted_proxies = trusted_proxies
        self.untrusted_proxy = UntrustedProxyNotice()

    @property
    def enabled(self) -> bool:
        return self.password is not None

    def verdict(self, authorization: str | None, address: str) -> Verdict:
        if self.password is None:
            return Verdict("absent")
        wait = self.failures.retry_after(address)
        if wait is not None:  # not even checked: guessing must stay slow
            return Verdict("slow_down", wait)
        if credentials_match(authorization, self.password):
            self.failures.succeeded(address)
            return Verdict("allow")
        if self.failures.failed(address):
            log.warning(
                "operators' sign-in from %s throttled: %d failures within %.0f s (429 until they "
                "stop)",
                address,
                self.failures.limit,
                self.failures.window,
            )
        return Verdict("unauthorized")

    def guard(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        peer = connection.client.host if connection.client else None
        # Several lines of one header read as one list, as HTTP says.
        proxy_headers = {
            name: ", ".join(connection.headers.getall(name))
            for name in ("x-forwarded-for", "forwarded")
            if name in connection.headers
        }
        self.untrusted_proxy.check(peer, proxy_headers, self.trusted_proxies)
        address = client_address(peer, proxy_headers, self.trusted_proxies)
        verdict = self.verdict(connection.headers.get("authorization"), address)
        if verdict.outcome == "absent":
            raise NotFoundException()
        if verdict.outcome == "slow_down":
            raise TooManyRequestsException(
                detail=f"too many failed sign-ins from this address: retry in "
                f"{verdict.retry_after} s",
                headers={"Retry-After": str(verdict.retry_after)},
            )
        if verdict.outcome == "unauthorized":
            raise NotAuthorizedException(
                detail="sign in as admin with ADMIN_PASSWORD",
                headers={"WWW-Authenticate": CHALLENGE},
            )


ENABLE_HINT = (
    "operators' paths (/status, /api/status, /api/export/…) are off and answer 404: set "
    "ADMIN_PASSWORD to enable them (HTTP Basic auth, user admin)"
)
