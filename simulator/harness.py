"""The real service as a child process (uvicorn with the factory), for simulations and tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition()` until it is true or the deadline passes; returns its last verdict."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class ServiceProcess:
    """`uvicorn --factory service.app:create_app` on a free port, in its own working directory
    (so that no developer's `.env` leaks in), with the environment given."""

    def __init__(
        self, workdir: Path, env: dict[str, str], port: int | None = None, workers: int = 1
    ) -> None:
        self.workers = workers
        self.workdir = workdir
        self.env = env
        self.port = port or free_port()
        self.log_path = workdir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        command = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until(self._healthy, timeout):
            self.stop()
            raise RuntimeError(f"the service did not start; its log:\n{self.log()}")
        return self

    def _healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the service exited; its log:\n{self.log()}")
        try:
            return httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, as systemd and pm2 stop a service; SIGKILL if it does not exit in time."""
        return None if self.process is None else terminate(self.process, timeout)

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def terminate(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """Stop a server as systemd and pm2 do: SIGTERM, then SIGKILL if it has not exited within
    `timeout` seconds; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class Database:
    """Synchronous reads and writes for tests, each on its own short connection."""

    def __init__(self, url: str) -> None:
        self.url = url

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.url, timeout=10)
            try:
                return await connection.fetch(sql, *args)
            finally:
                await connection.close()

        return asyncio.run(go())

    def value(self, sql: str, *args: Any) -> Any:
        rows = self.fetch(sql, *args)
        return rows[0][0] if rows else None

    def execute(self, sql: str, *args: Any) -> None:
        async def go() -> None:
            connection = await asyncpg.connect(self.url, timeout=10)
            try:
                await connection.execute(sql, *args)
            finally:
                await connection.close()

        asyncio.run(go())
