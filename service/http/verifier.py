"""`GET /api/database/verifier-tables-pointage`: is the database there, and the schema complete?"""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from service.db.errors import DatabaseProblem
from service.db.schema import DatabaseHealth, SchemaObject, SchemaReport, check_schema
from service.http import paths
from service.http.openapi import VERIFIER_ANSWERS, responses
from service.outbox.spool import Spool, oldest_age_s
from service.runtime import Runtime


class SpoolState(msgspec.Struct):
    pending: int  # waiting for this database
    stranded: int = 0  # waiting for another database (CONTRACT §5): `ok` is false meanwhile
    quarantined: int = 0  # signed but invalid deliveries kept
    oldest_pending_s: float | None = None  # age of the oldest delivery waiting for this database


class VerifierAnswer(msgspec.Struct):
    ok: bool
    database: DatabaseHealth
    objects: list[SchemaObject]
    missing: list[str]
    spool: SpoolState


def spool_state(spool: Spool) -> SpoolState:
    """The spool's part of the answer (blocking: run it in a thread from async code)."""
    status = spool.status()
    return SpoolState(
        pending=status.pending,
        stranded=status.stranded_count,
        quarantined=status.quarantined,
        oldest_pending_s=oldest_age_s(status),
    )


def verifier_answer(
    report: SchemaReport, spool: SpoolState, apply_problem: DatabaseProblem | None = None
) -> VerifierAnswer:
    """CONTRACT §4's JSON, for the endpoint and for `python -m service db verify`."""
    database = report.database
    if database.reachable and report.missing and apply_problem and database.error is None:
        database = DatabaseHealth(database.reachable, database.latency_ms, apply_problem.sentence)
    return VerifierAnswer(
        ok=report.ok and spool.stranded == 0,
        database=database,
        objects=report.objects,
        missing=report.missing,
        spool=spool,
    )


@get(paths.VERIFIER, responses=responses(VerifierAnswer, VERIFIER_ANSWERS))
async def verifier_tables_pointage(runtime: NamedDependency[Runtime]) -> Response[VerifierAnswer]:
    """The database and every object of the schema (CONTRACT §4): 200 when all is in place."""
    report, state = await asyncio.gather(
        check_schema(runtime.target), asyncio.to_thread(spool_state, runtime.spool)
    )
    answer = verifier_answer(report, state, runtime.breaker.apply_problem)
    return Response(answer, status_code=200 if answer.ok else 503)
