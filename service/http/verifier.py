"""`GET /api/database/verifier-tables-pointage`: is the database there, and the schema complete?"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from service.db.schema import DatabaseHealth, SchemaObject, SchemaReport, check_schema
from service.http.openapi import VERIFIER_ANSWERS, responses

PATH = "/api/database/verifier-tables-pointage"


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


async def verify_tables(state: State) -> VerifierAnswer:
    report = await check_schema(state.runtime.target)
    return verifier_answer(report, await asyncio.to_thread(state.runtime.spool.pending))


@get(PATH, responses=responses(VerifierAnswer, VERIFIER_ANSWERS))
async def verifier_tables_pointage(state: State) -> Response[VerifierAnswer]:
    """The database and every object of the schema (CONTRACT §4): 200 when all is in place."""
    answer = await verify_tables(state)
    return Response(answer, status_code=200 if answer.ok else 503)
