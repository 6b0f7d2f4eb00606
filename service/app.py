"""The ASGI application factory: `uvicorn --factory service.app:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from service.runtime import Runtime
from service.settings import ConfigurationError, Settings
from service.verifier import verifier_tables_pointage
from service.webhook import receive_pointage

log = logging.getLogger(__name__)


@get("/health")
async def health() -> dict[str, str]:
    """The process is up (says nothing of the database)."""
    return {"status": "ok"}


ErrorBody = dict[str, str]


def http_error(_: Request[object, object, State], exc: HTTPException) -> Response[ErrorBody]:
    return Response({"status": "error", "reason": exc.detail}, status_code=exc.status_code)


def unexpected_error(_: Request[object, object, State], exc: Exception) -> Response[ErrorBody]:
    log.exception("unexpected error", exc_info=exc)
    body = {"status": "error", "reason": "internal error, see the service log"}
    return Response(body, status_code=500)


def create_app(settings: Settings | None = None) -> Litestar:
    try:
        settings = settings or Settings.from_env()
        settings.require_secret()
    except ConfigurationError as exc:
        raise SystemExit(f"timemoto-pointage: {exc}") from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.stop()

    return Litestar(
        route_handlers=[receive_pointage, verifier_tables_pointage, health],
        lifespan=[lifespan],
        exception_handlers={HTTPException: http_error, Exception: unexpected_error},
    )
