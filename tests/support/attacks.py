"""Attacks on the HTTP edge, each bounded in time, and the deliveries sent meanwhile.

Every attack runs on its own event loop in a thread (`Attack`), against a host and port on
loopback, until it is stopped; `deliveries_during` sends signed deliveries, each on a new
connection (as TimeMoto does), while it runs, and counts the answers. `rss_mb` reads a process's
resident memory from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service.domain.signature import sign
from service.http import paths
from tests.support.samples import sample_delivery
from tests.support.webhook import SECRET as WEBHOOK_SECRET
from tests.support.webhook import TLS

HEAD = (
    b"POST " + paths.WEBHOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\n"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


@dataclass
class Tally:
    answers: Counter[int | str] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)  # ids answered 200 or 202

    @property
    def sent(self) -> int:
        return sum(self.answers.values())

    def __str__(self) -> str:
        return f"{self.sent} sent: " + ", ".join(f"{k}: {v}" for k, v in self.answers.items())


def signed(prefix: str) -> tuple[str, bytes, dict[str, str]]:
    document = sample_delivery()
    document["id"] = f"tm_{prefix}_{uuid.uuid4().hex}"
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, WEBHOOK_SECRET)}
    return document["id"], body, headers


def deliver(url: str, tally: Tally, prefix: str, verify: ssl.SSLContext = TLS) -> None:
    """One delivery on a new connection; its answer (or the transport error's name) counted."""
    event_id, body, headers = signed(prefix)
    try:
        answer = httpx.post(url, content=body, headers=headers, timeout=30, verify=verify)
    except httpx.TransportError as exc:
        tally.answers[type(exc).__name__] += 1
        return
    tally.answers[answer.status_code] += 1
    if answer.status_code in (200, 202):
        tally.acknowledged.append(event_id)


def deliveries_during(
    seconds: float,
    url: str,
    prefix: str,
    verify: ssl.SSLContext = TLS,
    pause: float = 0.05,
    at_least: int = 20,
) -> Tally:
    """Deliveries one by one, each on a new connection, for `seconds` and at least `at_least` of
    them (a busy machine sends fewer in the time)."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    cutoff = deadline + 30  # bounded whatever happens: then `sent` tells
    while time.monotonic() < cutoff and (time.monotonic() < deadline or tally.sent < at_least):
        deliver(url, tally, prefix, verify)
        time.sleep(pause)  # a steady trickle, not a benchmark
    return tally


class Attack:
    """`attack(stop)` on its own event loop in a thread, from `start()` until `stop()`."""

    def __init__(self, attack: Callable[[asyncio.Event], Awaitable[Any]]) -> None:
        self.attack = attack
        self.result: Any = None
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._loop.run_until_complete(self.attack(self._stop))
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def __enter__(self) -> Attack:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the attack did not stop"
        if self.error is not None:
            raise self.error


@dataclass
class Counts:
    opened: int = 0
    closed_by_server: int = 0
    answers: Counter[bytes] = field(default_factory=Counter)


async def _open(
    host: str, port: int, tls: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls), 10)


def slow_clients(
    host: str,
    port: int,
    count: int,
    first: bytes,
    drip: bytes,
    every: float,
    tls: ssl.SSLContext | None = None,
) -> Callable[[asyncio.Event], Awaitable[Counts]]:
    """`count` clients that send `first`, then `drip` every `every` seconds, for ever; a client
    whose connection the server closes opens another at once (what a slowloris tool does)."""
    counts = Counts()

    async def one(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                reader, writer = await _open(host, port, tls)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            counts.opened += 1
            try:
                writer.write(first)
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        data = await asyncio.wait_for(reader.read(4096), every)
                        if data:
                            counts.answers[data.split(b"\r\n", 1)[0]] += 1
                        counts.closed_by_server += 1
                        break
                    writer.write(drip)
                    await writer.drain()
            except (OSError, ssl.SSLError):
                counts.closed_by_server += 1
            finally:
                writer.transport.abort()

    async def run(stop: asyncio.Event) -> Counts:
        tasks = []
        for start in range(0, count, 100):  # in waves: the listener's backlog is finite
            tasks += [asyncio.create_task(one(stop)) for _ in range(min(100, count - start))]
            await asyncio.sleep(0.05)
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        return counts

    return run


def slow_body(host: str, port: int, count: int, tls: ssl.SSLContext | None = None) -> Any:
    """Whole headers announcing 200 KB, then the body one byte a second."""
    first = HEAD + b"Content-Length: 200000\r\nTimemoto-Signature: 00\r\n\r\n{"
    return slow_clients(host, port, count, first, b" ", 1.0, tls)


def slowloris(host: str, port: int, count: int, tls: ssl.SSLContext | None = None) -> Any:
    """Half of the headers, then one more header line a second, never the blank line."""
    return slow_clients(host, port, count, HEAD, b"X-a: b\r\n", 1.0, tls)


def huge_headers(
    host: str, port: int, clients: int, megabytes: int, tls: ssl.SSLContext | None = None
) -> Any:
    """`clients` at once, each sending one header of `megabytes` MB as fast as it may."""
    counts = Counts()
    chunk = b"a" * 65536

    async def one(stop: asyncio.Event) -> None:
        reader, writer = await _open(host, port, tls)
        counts.opened += 1
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            for _ in range(megabytes * 16):
                if stop.is_set():
                    return
                writer.write(chunk)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            answer = await asyncio.wait_for(reader.read(4096), 5)
            counts.answers[answer.split(b"\r\n", 1)[0]] += 1
        counts.closed_by_server += 1
        writer.transport.abort()

    async def run(stop: asyncio.Event) -> Counts:
        await asyncio.gather(*(one(stop) for _ in range(clients)), return_exceptions=True)
        return counts

    return run


def raw_request(host: str, port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send `request` whole, read until the server closes: its answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer
