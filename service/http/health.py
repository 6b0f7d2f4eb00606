"""`GET /health` (the process is up), `GET /ready` (it can store punches: database, schema)."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from service.http import paths
from service.http.openapi import responses
from service.operations.verification import ReadyAnswer, Verification


class HealthAnswer(msgspec.Struct):
    status: str


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
async def ready(verification: NamedDependency[Verification]) -> Response[ReadyAnswer]:
    """200 when the database answers and every schema object is in place, else 503."""
    answer = await verification.readiness()
    return Response(answer, status_code=200 if answer.ready else 503)
