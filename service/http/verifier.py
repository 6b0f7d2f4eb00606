"""`GET /api/database/verifier-tables-pointage`: is the database there, and the schema complete?"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get

from service.db.schema import DatabaseHealth, SchemaObject, SchemaReport, check_schema
from service.http import paths
from service.http.openapi import VERIFIER_ANSWERS, responses
from service.runtime import Runtime


class SpoolState(msgspec.Struct):
    pending: int


class VerifierAnswer(msgspec.Struct):
    ok: bool
    database: DatabaseHealth
    objects: list[SchemaObject]
    missing: list[str]
    spool: SpoolState


def verifier_answer(report: SchemaReport, spool_pending: int) -> VerifierAnswer:
    """CONTRACT §4's JSON, for the endpoint and for `python -m service db verify`."""
    return VerifierAnswer(
        ok=report.ok,
        database=report.database,
        objects=report.objects,
        missing=report.missing,
        spool=SpoolState(pending=spool_pending),
    )


@get(paths.VERIFIER, responses=responses(VerifierAnswer, VERIFIER_ANSWERS))
async def verifier_tables_pointage(runtime: Runtime) -> Response[VerifierAnswer]:
    """The database and every object of the schema (CONTRACT §4): 200 when all is in place."""
    report = await check_schema(runtime.target)
    answer = verifier_answer(report, await asyncio.to_thread(runtime.spool.pending))
    return Response(answer, status_code=200 if answer.ok else 503)
