"""One harness for running the service in a test: in this process, or as a real process.

- `InProcessService`: the application of `service.app.create_app(settings)` driven by Litestar's
  `TestClient`. Its lifespan starts the runtime (database, spool, recovery) on the TestClient's
  event loop, which runs in a thread of its own: the recovery keeps probing and draining between
  requests, as in production. Starting one costs no process and no import.
- `ServiceProcess`: uvicorn with the factory in a child process (simulator/harness.py, which
  `make simulate` and bench/ use too), for what only a real process shows: signals, kill -9,
  uvicorn's own log lines, the deploy files' commands, a URL for the simulator's CLI.

Both give `client` (an `httpx.Client` on the service), `async_client()` (for the simulator's
`Sender`) and `log()` (what the service logged), so that steps and helpers take either.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings
from simulator.harness import ServiceProcess as _ServiceProcess
from simulator.harness import free_port, wait_until
from tests.support.webhook import SECRETS

__all__ = [
    "QUICK_TIMEOUTS",
    "InProcessService",
    "RunningService",
    "ServiceProcess",
    "assert_logged_once",
    "free_port",
    "service_cli",
    "service_env",
    "service_settings",
    "wait_until",
]

# Short waits, so that a failing database costs the suite little.
QUICK_TIMEOUTS = {"connect_timeout": 1.0, "pool_timeout": 1.0, "statement_timeout": 2.0}
_QUICK_ENV = {"DB_CONNECT_TIMEOUT": "1", "DB_POOL_TIMEOUT": "1", "DB_STATEMENT_TIMEOUT": "2"}


def service_settings(
    database_url: str, workdir: Path, *, quick: bool = False, **overrides: Any
) -> Settings:
    """The settings of an in-process service on `database_url`, its files under `workdir`."""
    values: dict[str, Any] = {
        "webhook_secrets": SECRETS,
        "database_url": database_url,
        "data_dir": workdir / "data",
        "spool_dir": workdir / "spool",
    }
    if quick:
        values.update(QUICK_TIMEOUTS)
    values.update(overrides)
    return Settings(**values)


def service_env(
    database_url: str, workdir: Path, *, quick: bool = False, **extra: str
) -> dict[str, str]:
    """The same settings as a process's environment (what systemd's or pm2's file would hold)."""
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": ", ".join(SECRETS),
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "data"),
        "SPOOL_DIR": str(workdir / "spool"),
    }
    if quick:
        env.update(_QUICK_ENV)
    env.update(extra)
    return env


class RunningService(Protocol):
    @property
    def client(self) -> httpx.Client: ...

    def async_client(self) -> httpx.AsyncClient: ...

    def log(self) -> str: ...

    def stop(self) -> object: ...


def service_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m service ARGS` as an operator runs it: in `cwd`, with `env` over this process's
    environment; its exit code and output, whatever they are."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_logged_once(service: RunningService, text: str) -> None:
    """`text` in the service's log, exactly once."""
    # A line is written at the end of the service's loop turn: maybe just after an answer.
    assert wait_until(lambda: text in service.log(), 10), service.log()
    assert service.log().count(text) == 1, service.log()


class _LogCapture(logging.Handler):
    """Every record logged while an in-process service runs, as `logger: message` lines."""

    _NOT_THE_SERVICE = ("httpx", "httpcore")  # the test client's own request lines

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(self._NOT_THE_SERVICE):
            self.lines.append(self.format(record))


class _PortalTransport(httpx.AsyncBaseTransport):
    """Lets an `httpx.AsyncClient` on any event loop reach a TestClient's application: each
    request runs as a task on the application's own event loop (the TestClient's portal), so
    hundreds of them can be in flight at once, as on a server."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self._portal = client.blocking_portal
        self._asgi = httpx.ASGITransport(app=client.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        running = self._portal.start_task_soon(self._asgi.handle_async_request, inner)
        response = await asyncio.wrap_future(running)
        await response.aread()
        return response


class InProcessService:
    """`create_app(settings)` in this process, started and stopped with its lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: TestClient[Litestar] | None = None
        self._log = _LogCapture()

    @property
    def client(self) -> TestClient[Litestar]:
        assert self._client is not None, "the service is not running"
        return self._client

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.client.base_url, transport=_PortalTransport(self.client)
        )

    def log(self) -> str:
        return "\n".join(self._log.lines)

    def start(self) -> InProcessService:
        logging.getLogger().addHandler(self._log)
        client = TestClient(create_app(self.settings), timeout=30)
        client.follow_redirects = (
            False  # as httpx's and TimeMoto's clients: a redirect is an answer
        )
        try:
            client.__enter__()  # the lifespan: Runtime.start
        except BaseException:
            logging.getLogger().removeHandler(self._log)
            raise
        self._client = client
        return self

    def stop(self) -> None:
        """The lifespan's shutdown (Runtime.stop); stopping twice is stopping once."""
        client, self._client = self._client, None
        try:
            if client is not None:
                client.__exit__(None, None, None)
        finally:
            logging.getLogger().removeHandler(self._log)

    def __enter__(self) -> InProcessService:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ServiceProcess(_ServiceProcess):
    """simulator.harness.ServiceProcess with an httpx client on it, like InProcessService."""

    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=30)
        return self._client

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self._client is not None:
            self._client.close()
            self._client = None
        return super().stop(timeout)
