"""`GET /api/database/verifier-tables-pointage`: is the database there, and the schema complete?"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from service.schema import DatabaseHealth, SchemaObject, check_schema

PATH = "/api/database/verifier-tables-pointage"


class SpoolState(msgspec.Struct):
    pending: int


class VerifierAnswer(msgspec.Struct):
    ok: bool
    database: DatabaseHealth
    objects: list[SchemaObject]
    missing: list[str]
    spool: SpoolState


async def verify_tables(state: State) -> VerifierAnswer:
    report = await check_schema(state.runtime.target)
    return VerifierAnswer(
        ok=report.ok,
        database=report.database,
        objects=report.objects,
        missing=report.missing,
        spool=SpoolState(pending=await asyncio.to_thread(state.runtime.spool.pending)),
    )


@get(PATH)
async def verifier_tables_pointage(state: State) -> Response[VerifierAnswer]:
    answer = await verify_tables(state)
    return Response(answer, status_code=200 if answer.ok else 503)
