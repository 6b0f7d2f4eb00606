"""`GET /health` (the process is up), `GET /ready` (it can store punches: database, schema)."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from service.db.schema import check_schema
from service.http import paths
from service.http.openapi import responses
from service.runtime import Runtime


class HealthAnswer(msgspec.Struct):
    status: str


class ReadyAnswer(msgspec.Struct):
    ready: bool
    database_reachable: bool
    missing: list[str]
    error: str | None


@get(paths.HEALTH)
async def health() -> HealthAnswer:
    """The process is up (says nothing of the database)."""
    return HealthAnswer(status="ok")


READY_ANSWERS = {
    200: (
        "The database answers and the schema is complete: punches are stored.",
        {"ready": {"ready": True, "database_reachable": True, "missing": [], "error": None}},
    ),
    503: (
        "Not ready: the database does not answer or objects are missing. Deliveries are still "
        "acknowledged (spooled).",
        {
            "unreachable": {
                "ready": False,
                "database_reachable": False,
                "missing": [],
                "error": "the database did not answer in time (connection timeout)",
            }
        },
    ),
}


@get(paths.READY, responses=responses(ReadyAnswer, READY_ANSWERS))
async def ready(runtime: NamedDependency[Runtime]) -> Response[ReadyAnswer]:
    """200 when the database answers and every schema object is in place, else 503."""
    report = await check_schema(runtime.target)
    answer = ReadyAnswer(
        ready=report.ok,
        database_reachable=report.database.reachable,
        missing=report.missing,
        error=report.database.error,
    )
    return Response(answer, status_code=200 if answer.ready else 503)
