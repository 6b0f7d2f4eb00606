"""The real service as a child process (uvicorn with the factory), for simulations and tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import asyncpg
import httpx
import psutil


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
        try:
            started = wait_until(self._healthy, timeout)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) or exited: `with` will not stop it
            self.stop()
            raise
        if not started:
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


@contextlib.contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """Ctrl-C and SIGTERM (a `timeout`, `kill`, systemd) both unwind the block: every `with` and
    `finally` in it stops what it started, and KeyboardInterrupt comes out. Inside `asyncio.run`
    the signal cancels the loop's tasks (as asyncio's own Ctrl-C does, so that they end cleanly);
    elsewhere it raises KeyboardInterrupt at once. Once one has come, further SIGINT and SIGTERM
    are ignored: the unwinding has deadlines of its own, and a second Ctrl-C must not cut it
    short and leave a server behind."""
    interrupted = False

    def cancel_all(loop: asyncio.AbstractEventLoop) -> None:
        for task in asyncio.all_tasks(loop):
            task.cancel()

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        interrupted = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise KeyboardInterrupt from None
        loop.call_soon_threadsafe(cancel_all, loop)  # wakes the loop out of its select()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    if not interrupted:  # after a signal, stay deaf until the process ends
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def processes_naming(folder: Path) -> list[psutil.Process]:
    """Other processes whose command line names `folder` (a server's data directory), or that
    work inside it: initdb's bootstrap backend (`postgres --single`) names no folder, but runs
    in it; left running, it writes files into a cluster being removed."""
    needle = str(folder)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.pid == os.getpid():
            continue
        command = process.info["cmdline"] or []
        try:
            inside = Path(process.cwd()).is_relative_to(folder)
        except (psutil.Error, OSError):
            inside = False
        if inside or any(needle in part for part in command):
            found.append(process)
    return found


def stop_postgres(pgdata: Path, deadline: float = 30.0) -> bool:
    """Stop whatever runs on `pgdata` (a postmaster, or the pg_ctl/shell starting one): SIGINT,
    PostgreSQL's fast shutdown, then SIGKILL at the deadline. Whether none is left."""
    for process in processes_naming(pgdata):
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGINT)
    if wait_until(lambda: not processes_naming(pgdata), deadline, interval=0.1):
        return True
    for process in processes_naming(pgdata):
        with contextlib.suppress(psutil.Error):
            process.kill()
    return wait_until(lambda: not processes_naming(pgdata), 5, interval=0.1)


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
