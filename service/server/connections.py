"""Connections that cost nothing to open cannot starve the webhook, nor its memory.

uvicorn closes an idle keep-alive connection after `--timeout-keep-alive`, but a connection that
never sends a request, sends half of its headers, or sends its headers and then its body a byte
at a time, stays open for ever, each holding a file descriptor and, past LIMIT_CONCURRENCY, making
uvicorn answer every delivery 503; and httptools (the C parser) has no limit on the size of
headers at all. `GuardedHttpToolsProtocol` (and `GuardedH11Protocol`, the same on the pure-Python
parser) is uvicorn's protocol with these additions:

- deadlines: a connection whose request line and headers are not complete HEADER_TIMEOUT seconds
  after it opened (or after its previous response), or whose body is not complete BODY_TIMEOUT
  seconds after its headers, is closed;
- a header size limit (MAX_HEADER_BYTES, request line included) whatever the parser: past it the
  request is answered 431 and the connection closed, before the parser has held more than that
  and one read;
- a ceiling on open connections (MAX_CONNECTIONS, by default the file descriptor limit less a
  reserve, and below LIMIT_CONCURRENCY): past it, the connection that has waited longest without
  sending anything useful (headers or body still incomplete) is closed to make room;
- a budget for the bodies still arriving (BODY_BYTES_BUDGET): past it, the oldest incomplete body
  is closed. A request whose body is complete (being served) is never closed.

So a new connection is always accepted and served at once, however many idle, half-sent or slow
ones are open, and the memory that clients can hold is bounded by design: MAX_CONNECTIONS times
MAX_HEADER_BYTES (plus one read each) for headers, BODY_BYTES_BUDGET for bodies.

The guarded protocols also drop uvicorn's own proxy-headers middleware, which by default believes
`X-Forwarded-For` from 127.0.0.1: TRUSTED_PROXIES decides that (service/http/edge.py).

Use them with `python -m service serve` (which sets them), or `uvicorn --factory
service.app:create_app --http service.server.connections:GuardedHttpToolsProtocol`.
With uvloop (what `uvicorn[standard]` runs), libuv handles running out of descriptors itself; with
asyncio's own loop, accept() is retried after 50 ms instead of a second (see `configure`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import h11
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

FD_RESERVE = 64  # descriptors kept for the database pool, the spool, logs and the listener
MAX_HEADER_BYTES = 16 * 1024  # request line and headers, bytes (h11's own default)
MAX_INCOMPLETE_EVENT_SIZE = MAX_HEADER_BYTES  # h11's limit: ours answers 431 before it does
BODY_BYTES_BUDGET = 32 * 1024 * 1024  # bytes of bodies still arriving, all connections together
SECURITY_HEADERS = b"x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n"


def fd_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(slots=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 0  # 0: from the file descriptor limit
    body_bytes_budget: int = BODY_BYTES_BUDGET

    def ceiling(self, limit_concurrency: int | None) -> int:
        # Half of the descriptors: asyncio accepts a whole burst before the first of them is
        # seen here, and that burst must find descriptors free.
        ceiling = self.max_connections or max((fd_limit() - FD_RESERVE) // 2, 16)
        if limit_concurrency:  # uvicorn answers 503 at limit_concurrency connections
            ceiling = min(ceiling, limit_concurrency - 1)
        return max(ceiling, 1)


Phase = Literal["head", "body", "served"]

LIMITS = Limits()
_open: set[_Guard] = set()
# Connections that have not yet sent a whole request (headers or body), oldest first: the ones
# closed first to make room.
_incomplete: dict[_Guard, None] = {}
_body_bytes = 0  # received by the connections whose body is incomplete
_closed = {  # connections we closed, since start, by reason
    "shed": 0,
    "header_timeout": 0,
    "body_timeout": 0,
    "headers_too_large": 0,
}

ACCEPT_RETRY_DELAY = 0.05  # seconds; asyncio's own is 1 s, a second of deaf listener


def configure(
    header_timeout: float, max_connections: int | None, body_timeout: float | None = None
) -> None:
    """Called by the application factory with the settings (HEADER_TIMEOUT, MAX_CONNECTIONS,
    BODY_TIMEOUT).

    Also shortens asyncio's pause after accept() finds no descriptor free (EMFILE): connections
    made meanwhile have made room, so the listener tries again after 50 ms, not a second.
    """
    LIMITS.header_timeout = header_timeout
    LIMITS.body_timeout = body_timeout or LIMITS.body_timeout
    LIMITS.max_connections = max_connections or 0
    asyncio.constants.ACCEPT_RETRY_DELAY = ACCEPT_RETRY_DELAY  # type: ignore[attr-defined]


def open_count() -> int:
    return len(_open)


def closed_counts() -> dict[str, int]:
    return dict(_closed)


def _too_large_answer() -> bytes:
    body = json.dumps(
        {"status": "error", "reason": f"request headers over {MAX_HEADER_BYTES // 1024} KiB"}
    ).encode()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n" + SECURITY_HEADERS + b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


TOO_LARGE = _too_large_answer()


def _without_proxy_headers(app: Any) -> Any:
    """uvicorn's loaded app without its ProxyHeadersMiddleware (TRUSTED_PROXIES decides)."""
    return app.app if isinstance(app, ProxyHeadersMiddleware) else app


class _Guard:
    """Deadlines, the header limit and the connection ceiling, for either of uvicorn's parsers."""

    _timer: asyncio.TimerHandle | None = None
    _phase: Phase = "served"
    _head_bytes = 0
    _head_tail = b""  # the last bytes of the headers so far: a CRLFCRLF may straddle two reads
    _body_received = 0

    # uvicorn answers 503 to a request arriving while LIMIT_CONCURRENCY connections or tasks are
    # open: with the ceiling full of slow clients, that refuses the delivery. The guarded protocols
    # keep their ceiling (below that limit) by closing a slow client instead, so they take the
    # limit from uvicorn, whose own check is off; one task per connection keeps the tasks below it.
    _limit_concurrency: int | None = None

    def _guard_open(self) -> None:
        _open.add(self)
        self._make_room()
        self._enter("head")

    def _guard_lost(self) -> None:
        self._enter("served")
        _open.discard(self)

    def _transport(self) -> asyncio.Transport:
        transport: asyncio.Transport = self.transport  # type: ignore[attr-defined]
        return transport

    def _enter(self, phase: Phase) -> None:
        global _body_bytes
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        _incomplete.pop(self, None)
        _body_bytes -= self._body_received
        self._body_received = 0
        self._phase = phase
        if phase == "served":
            return
        _incomplete[self] = None  # at the end: the newest
        self._head_bytes, self._head_tail = 0, b""
        loop: asyncio.AbstractEventLoop = self.loop  # type: ignore[attr-defined]
        timeout = LIMITS.header_timeout if phase == "head" else LIMITS.body_timeout
        self._timer = loop.call_later(timeout, self._deadline)

    def _deadline(self) -> None:
        self._timer = None
        if self in _incomplete and not self._transport().is_closing():
            _closed["header_timeout" if self._phase == "head" else "body_timeout"] += 1
            self._drop(abort=False)

    def _drop(self, abort: bool) -> None:
        self._enter("served")
        _open.discard(self)  # now, not at connection_lost: the next arrival must not count it
        if abort:
            self._transport().abort()  # the descriptor is freed now, not after a handshake
        else:
            self._transport().close()

    def _headers_too_large(self, data: bytes) -> bool:
        """While the headers arrive: True when they pass MAX_HEADER_BYTES with `data`."""
        room = MAX_HEADER_BYTES - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            self._head_tail = (self._head_tail + data)[-3:]
            return False
        # The headers may end within the limit, the rest of `data` being the body.
        return b"\r\n\r\n" not in self._head_tail + data[: max(room, 0)]

    def _refuse_too_large(self) -> None:
        _closed["headers_too_large"] += 1
        transport = self._transport()
        self._enter("served")
        transport.write(TOO_LARGE)
        transport.close()

    def _guarded_data(self, data: bytes) -> bool:
        """Before the parser sees `data`: False when the connection was answered and closed."""
        global _body_bytes
        if self._phase == "head" and self._headers_too_large(data):
            self._refuse_too_large()
            return False
        if self._phase == "body":
            self._body_received += len(data)
            _body_bytes += len(data)
            if _body_bytes > LIMITS.body_bytes_budget:
                self._shed(lambda guard: guard._phase == "body", over_budget=True)
        return True

    def _make_room(self) -> None:
        """Past the ceiling, close the connections that have waited longest without a request."""
        ceiling = LIMITS.ceiling(self._limit_concurrency)
        if len(_open) > ceiling:
            self._shed(lambda _: True, excess=len(_open) - ceiling)

    def _shed(
        self, which: Callable[[_Guard], bool], excess: int = 0, over_budget: bool = False
    ) -> None:
        for oldest in [guard for guard in _incomplete if which(guard)]:
            if excess <= 0 and not (over_budget and _body_bytes > LIMITS.body_bytes_budget):
                return
            if oldest is self:
                continue
            oldest._drop(abort=True)
            _closed["shed"] += 1
            excess -= 1


class GuardedH11Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol (pure Python), guarded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _without_proxy_headers(self.app)
        self._limit_concurrency, self.limit_concurrency = self.limit_concurrency, None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_open()

    def data_received(self, data: bytes) -> None:
        if not self._guarded_data(data):
            return
        super().data_received(data)
        if self._phase == "head" and self.conn.their_state is h11.SEND_BODY:
            self._enter("body")
        if self._phase != "served" and self.conn.their_state is h11.DONE:
            self._enter("served")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._enter("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_lost()
        super().connection_lost(exc)


class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser `uvicorn[standard]` brings), guarded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _without_proxy_headers(self.app)
        self._limit_concurrency, self.limit_concurrency = self.limit_concurrency, None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_open()

    def data_received(self, data: bytes) -> None:
        if self._guarded_data(data):
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self._enter("body")  # on_message_complete follows at once when there is none
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._enter("served")
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._enter("head")

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
        "proxy_headers": False,  # TRUSTED_PROXIES decides (service/http/edge.py)
    }
