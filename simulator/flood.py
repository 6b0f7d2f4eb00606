"""Idle and half-sent connections against the service, and one real delivery timed among them.

What someone who can reach the port can do at no cost: open thousands of TCP connections and
send nothing (or half of a request's headers). `flood()` opens them all, keeps them open, then
times one real signed delivery on a new connection, and closes everything. Local addresses only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.domain.signature import sign
from service.http import paths
from simulator.harness import free_port, terminate, wait_until

HALF_SENT = (
    b"POST " + paths.WEBHOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic"
)


@dataclass(frozen=True, slots=True)
class FloodResult:
    idle_opened: int  # connections this side managed to open (the server may close some since)
    half_sent_opened: int
    status: int | None  # the real delivery's HTTP status (None: no answer)
    seconds: float  # the real delivery's time to answer
    server_open: int  # connections the server held open, by its /metrics, after the delivery
    shed: int  # connections it closed to make room (the longest-waiting idle ones)


def raise_own_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def _open(port: int, count: int, first: bytes, writers: list[asyncio.StreamWriter]) -> int:
    async def one() -> None:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            if first:
                writer.write(first)
            writers.append(writer)

    for start in range(0, count, 200):  # in waves: the listener's backlog is finite
        await asyncio.gather(*(one() for _ in range(min(200, count - start))))
    return len(writers)


def _metric(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return int(float(line.rsplit(" ", 1)[1]))
    return -1


def flood(
    base_url: str, secret: str, delivery: dict[str, Any], idle: int = 2000, half_sent: int = 200
) -> FloodResult:
    """Open `idle` silent and `half_sent` half-sent connections, then time one delivery."""
    port = int(base_url.rsplit(":", 1)[1])
    raise_own_fd_limit(idle + half_sent + 256)
    body = json.dumps(delivery).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, secret)}

    async def go() -> FloodResult:
        silent: list[asyncio.StreamWriter] = []
        partial: list[asyncio.StreamWriter] = []
        try:
            opened_idle = await _open(port, idle, b"", silent)
            opened_half = await _open(port, half_sent, HALF_SENT, partial)
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                started = time.perf_counter()
                try:
                    response = await client.post(paths.WEBHOOK, content=body, headers=headers)
                    status: int | None = response.status_code
                except httpx.TransportError:
                    status = None
                seconds = time.perf_counter() - started
                metrics = (await client.get(paths.METRICS)).text
            return FloodResult(
                opened_idle,
                opened_half,
                status,
                seconds,
                _metric(metrics, "timemoto_http_connections_open"),
                _metric(metrics, 'timemoto_http_connections_closed_total{reason="shed"}'),
            )
        finally:
            for writer in silent + partial:
                writer.transport.abort()

    return asyncio.run(go())


class ServeProcess:
    """`python -m service serve` in a child process, with its file descriptor limit lowered."""

    def __init__(self, workdir: Path, env: dict[str, str], fd_limit: int | None = None) -> None:
        self.workdir = workdir
        self.env = env
        self.fd_limit = fd_limit
        self.port = free_port()
        self.log_path = workdir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _limit(self) -> Callable[[], None] | None:
        if self.fd_limit is None:
            return None
        limit = self.fd_limit

        def lower() -> None:  # in the child, before it runs Python
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        return lower

    def start(self) -> ServeProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit(),
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited; its log:\n{self.log()}")
            try:
                return httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        if not wait_until(healthy, 60):
            self.stop()
            raise RuntimeError(f"the service did not start; its log:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
