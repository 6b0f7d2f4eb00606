"""Connections that cost nothing to open cannot starve the webhook.

uvicorn closes an idle keep-alive connection after `--timeout-keep-alive`, but a connection that
never sends a request, or sends half of its headers, stays open for ever, each holding a file
descriptor; with enough of them `accept()` fails ("out of system resource") and every delivery
times out. `GuardedHttpToolsProtocol` (and `GuardedH11Protocol`, the same on the pure-Python
parser) is uvicorn's protocol with two additions:

- a header-read timeout (HEADER_TIMEOUT): a connection whose request line and headers are not
  complete that many seconds after it opened (or after its previous response) is closed;
- a ceiling on open connections (MAX_CONNECTIONS, by default the file descriptor limit less a
  reserve, and below LIMIT_CONCURRENCY): past it, the connection that has waited longest without
  a request in progress is closed to make room. A request being served is never closed.

So a new connection is always accepted and served at once, however many idle or half-sent ones
are open. Use it with `python -m service serve` (which sets it), or `uvicorn --factory
service.app:create_app --http service.server.connections:GuardedHttpToolsProtocol`.
With uvloop (what `uvicorn[standard]` runs), libuv handles running out of descriptors itself; with
asyncio's own loop, accept() is retried after 50 ms instead of a second (see `configure`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

FD_RESERVE = 64  # descriptors kept for the database pool, the spool, logs and the listener
MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024  # request line and headers, bytes (h11's own default)


def fd_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(slots=True)
class Limits:
    header_timeout: float = 10.0
    max_connections: int = 0  # 0: from the file descriptor limit

    def ceiling(self, limit_concurrency: int | None) -> int:
        # Half of the descriptors: asyncio accepts a whole burst before the first of them is
        # seen here, and that burst must find descriptors free.
        ceiling = self.max_connections or max((fd_limit() - FD_RESERVE) // 2, 16)
        if limit_concurrency:  # uvicorn answers 503 at limit_concurrency connections
            ceiling = min(ceiling, limit_concurrency - 1)
        return max(ceiling, 1)


LIMITS = Limits()
_open: set[_Guard] = set()
_waiting: dict[_Guard, None] = {}  # no request in progress, oldest first
_closed = {"shed": 0, "header_timeout": 0}  # connections we closed, since start, by reason

ACCEPT_RETRY_DELAY = 0.05  # seconds; asyncio's own is 1 s, a second of deaf listener


def configure(header_timeout: float, max_connections: int | None) -> None:
    """Called by the application factory with the settings (HEADER_TIMEOUT, MAX_CONNECTIONS).

    Also shortens asyncio's pause after accept() finds no descriptor free (EMFILE): connections
    made meanwhile have made room, so the listener tries again after 50 ms, not a second.
    """
    LIMITS.header_timeout = header_timeout
    LIMITS.max_connections = max_connections or 0
    asyncio.constants.ACCEPT_RETRY_DELAY = ACCEPT_RETRY_DELAY  # type: ignore[attr-defined]


def open_count() -> int:
    return len(_open)


def closed_counts() -> dict[str, int]:
    return dict(_closed)


class _Guard:
    """The header-read timeout and the connection ceiling, for either of uvicorn's parsers."""

    _header_timer: asyncio.TimerHandle | None = None

    def _guard_open(self) -> None:
        _open.add(self)
        self._make_room()
        self._wait_for_headers()

    def _guard_lost(self) -> None:
        self._serving()
        _open.discard(self)

    def _wait_for_headers(self) -> None:
        self._serving()
        _waiting[self] = None
        loop: asyncio.AbstractEventLoop = self.loop  # type: ignore[attr-defined]
        self._header_timer = loop.call_later(LIMITS.header_timeout, self._header_timeout)

    def _serving(self) -> None:
        _waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _transport(self) -> asyncio.Transport:
        transport: asyncio.Transport = self.transport  # type: ignore[attr-defined]
        return transport

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self in _waiting and not self._transport().is_closing():
            _waiting.pop(self, None)
            _closed["header_timeout"] += 1
            self._transport().close()

    def _make_room(self) -> None:
        """Past the ceiling, close the connections that have waited longest without a request."""
        ceiling = LIMITS.ceiling(self.limit_concurrency)  # type: ignore[attr-defined]
        excess = len(_open) - ceiling
        while excess > 0 and _waiting:
            oldest = next(iter(_waiting))
            _waiting.pop(oldest, None)
            if oldest is self:
                continue
            if oldest._header_timer is not None:
                oldest._header_timer.cancel()
                oldest._header_timer = None
            oldest._transport().abort()  # the descriptor is freed now, not after a handshake
            _closed["shed"] += 1
            excess -= 1


class GuardedH11Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol (pure Python), guarded."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_open()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.SEND_BODY, h11.DONE):  # the headers are complete
            self._serving()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_lost()
        super().connection_lost(exc)


class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser `uvicorn[standard]` brings), guarded."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_open()

    def on_headers_complete(self) -> None:
        self._serving()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_lost()
        super().connection_lost(exc)


def uvicorn_options(keepalive_timeout: float, limit_concurrency: int) -> dict[str, Any]:
    """What `python -m service serve` passes to uvicorn (and the README gives for its CLI)."""
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": keepalive_timeout,
        "limit_concurrency": limit_concurrency,
        "h11_max_incomplete_event_size": MAX_INCOMPLETE_EVENT_SIZE,
    }
