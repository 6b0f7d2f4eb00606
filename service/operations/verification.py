"""The verifier's answer (`GET /api/database/verifier-tables-pointage`, `python -m service db
verify`) and readiness (`GET /ready`): the database, the schema's objects, the spool."""

from __future__ import annotations

import asyncio

import msgspec

from service.db.engine import DatabaseTarget
from service.db.errors import DatabaseProblem
from service.db.schema import (
    EXPECTED_OBJECTS,
    DatabaseHealth,
    SchemaObject,
    SchemaReport,
    check_schema,
)
from service.outbox.spool import Spool, oldest_age_s
from service.recovery.recovery import Recovery

__all__ = [
    "EXPECTED_OBJECTS",
    "ReadyAnswer",
    "SpoolState",
    "Verification",
    "VerifierAnswer",
    "spool_state",
    "verifier_answer",
]


class SpoolState(msgspec.Struct):
    pending: int  # waiting for this database
    stranded: int = 0  # waiting for another database (docs/contract.md §5): `ok` false meanwhile
    quarantined: int = 0  # signed but invalid deliveries kept
    oldest_pending_s: float | None = None  # age of the oldest delivery waiting for this database


class VerifierAnswer(msgspec.Struct):
    ok: bool
    database: DatabaseHealth
    objects: list[SchemaObject]
    missing: list[str]
    spool: SpoolState


class ReadyAnswer(msgspec.Struct):
    ready: bool
    database_reachable: bool
    missing: list[str]
    error: str | None


def spool_state(spool: Spool | None) -> SpoolState:
    """The spool's part of the answer (blocking: run it in a thread from async code); no spool
    (the CLI before any was made): nothing waits."""
    if spool is None:
        return SpoolState(pending=0)
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
    """docs/contract.md §4's JSON."""
    database = report.database
    # Why the schema could not be applied, unless the check already says it (with the GRANTs).
    if database.reachable and report.missing and apply_problem and database.cause != "privileges":
        database = DatabaseHealth(
            database.reachable, database.latency_ms, apply_problem.sentence, apply_problem.code
        )
    return VerifierAnswer(
        ok=report.ok and spool.stranded == 0,
        database=database,
        objects=report.objects,
        missing=report.missing,
        spool=spool,
    )


class Verification:
    """Asks the database (a connection of its own, bounded by the connect timeout) and the
    spool; `recovery`, where the service runs, says why a schema could not be applied."""

    def __init__(
        self, target: DatabaseTarget, spool: Spool | None, recovery: Recovery | None = None
    ) -> None:
        self._target = target
        self._spool = spool
        self._recovery = recovery

    async def spool_state(self) -> SpoolState:
        return await asyncio.to_thread(spool_state, self._spool)

    async def verifier(self) -> VerifierAnswer:
        report, state = await asyncio.gather(check_schema(self._target), self.spool_state())
        apply_problem = self._recovery.apply_problem if self._recovery else None
        return verifier_answer(report, state, apply_problem)

    async def readiness(self) -> ReadyAnswer:
        report = await check_schema(self._target)
        return ReadyAnswer(
            ready=report.ok,
            database_reachable=report.database.reachable,
            missing=report.missing,
            error=report.database.error,
        )
