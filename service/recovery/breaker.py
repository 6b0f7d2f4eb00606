"""The circuit breaker: may deliveries go to the database now, or straight to the spool?

A write that fails for want of the database (connection refused, lost or timed out, missing
tables, ...) makes the breaker suspect an outage; a failed write alone never decides it: a probe
does, at once (bounded by the connect timeout). When the probe finds the database gone, the breaker
opens (`database_up` is False) and deliveries go straight to the spool without waiting for
another timeout. The probe applies the schema when it is missing and SCHEMA_AUTO_APPLY is on, and
closes the breaker when database and schema are both there. Each change of state is logged once,
with what to do about it, never once per probe or per delivery.
"""

from __future__ import annotations

import asyncio
import logging

from service.db.engine import DatabaseTarget
from service.db.errors import DatabaseProblem, classify
from service.db.schema import apply_schema, check_schema
from service.domain.diagnosis import Cause, grants_for
from service.outbox.spool import Spool

log = logging.getLogger(__name__)


class Breaker:
    """The database's state: up, suspected (a write failed, the probe decides) or down, with
    why. `Recovery` owns it; nothing else changes it."""

    def __init__(self, target: DatabaseTarget, spool: Spool, *, schema_auto_apply: bool) -> None:
        self._target = target
        self._spool = spool
        self._schema_auto_apply = schema_auto_apply
        self._up = True  # until a probe or a write says otherwise
        self._suspected = False  # a write failed for want of the database: probe now
        self._state: str | None = "unknown"
        self._role = target.user or "the service's role"  # for the GRANTs, until a check says
        self._schema = "public"
        self._applied = ""  # the schema file's own line about its last run here
        self.problem: DatabaseProblem | None = None  # why the database is down, as last seen
        self.apply_problem: DatabaseProblem | None = None  # why the schema could not be applied

    @property
    def database_up(self) -> bool:
        """As the last probe or write found it (a suspicion does not change it)."""
        return self._up

    @property
    def suspected(self) -> bool:
        return self._suspected

    def write_failed(self, problem: DatabaseProblem) -> None:
        """A write failed for want of the database, it seems: a probe decides, now. A table or
        column missing is the exception: the probe checks the contract's objects only, so it
        could not see a dropped column; the breaker opens at once, and each later probe lets one
        write find out whether it is back."""
        if problem.cause is Cause.SCHEMA_MISSING:
            self.problem = problem
            self._down(problem.code, self._advice(problem))
        elif self._up and not self._suspected:
            log.debug("write failed (%s): probing the database", problem)
            self._suspected = True

    @property
    def takes_writes(self) -> bool:
        """May a delivery go to the database now? Not while a failed write waits for the probe's
        word: against a database that stopped answering, each would wait out the webhook's
        patience (seconds) before being spooled all the same."""
        return self._up and not self._suspected

    @property
    def recovering(self) -> bool:
        """Up again, but not yet logged so: the first drained delivery confirms it."""
        return self._state != "up"

    # A probe that succeeds while writes still fail for the same reason (a dropped column, say)
    # is not a change, so the log does not flap.
    def _down(self, reason: str | None, message: str) -> None:
        self._up = False
        if reason != self._state:
            self._state = reason
            log.error("%s", message)

    def confirmed_up(self, message: str) -> None:
        self._up = True
        self.problem = None
        if self._state != "up":
            self._state = "up"
            log.info("%s", message)

    def available(self) -> str:
        return f"database {self._target.label} is available, pointage schema in place"

    @property
    def cause(self) -> DatabaseProblem | None:
        """Why deliveries cannot be written, as last seen (a failed apply of a missing schema
        says more than "missing"); None while they can."""
        if self._up:
            return None
        return self.apply_problem or self.problem

    @property
    def role(self) -> str:
        return self._role

    @property
    def schema(self) -> str:
        return self._schema

    def _todo(self, problem: DatabaseProblem) -> str:
        cause = problem.cause or Cause.OTHER
        return cause.advice.todo.format(grants=grants_for(self._role, self._schema))

    def _advice(self, problem: DatabaseProblem) -> str:
        where = self._target.label
        todo = self._todo(problem)
        return (
            f"database {where} unavailable: {problem}. Deliveries are acknowledged (202 queued) "
            f"and kept in the spool {self._spool.path}; they are written to pointage "
            f"automatically once it is back. To do: {todo}."
        )

    async def decide(self) -> bool:
        """True while deliveries may go to the database: a probe settles a suspicion first."""
        if self._suspected:
            try:
                return await self.probe()
            finally:
                self._suspected = False  # only now: until the probe's word, deliveries spool
        return self.database_up

    async def probe(self) -> bool:
        """Is the database there with the whole schema (applying it if allowed)? Sets the state.

        Whatever the probe finds is logged only when it differs from what the last one found.
        """
        report = await check_schema(self._target)
        apply_failed: DatabaseProblem | None = None
        if report.role:
            self._role, self._schema = report.role, report.schema
        if report.missing and not report.read_only and self._schema_auto_apply:
            missing_before = report.missing
            apply_failed = await self._apply_schema()
            report = await check_schema(self._target)
            if apply_failed is None and not report.missing:
                log.warning(
                    "pointage schema was incomplete (missing: %s): applied "
                    "sql/schema_pointage.sql: %s",
                    ", ".join(missing_before),
                    self._applied,
                )
        self.apply_problem = apply_failed if report.missing else None
        self.problem = report.outage
        if report.problem is not None:
            self._down(report.problem.code, self._advice(report.problem))
        elif (report.read_only or report.insert_denied) and self.problem is not None:
            self._down(self.problem.code, self._advice(self.problem))
        elif report.missing:
            self._down(*self._incomplete(report.missing, apply_failed))
        else:
            self._up = True  # confirmed, and logged, by the first write (or an empty spool)
            if not await asyncio.to_thread(self._spool.pending):
                self.confirmed_up(self.available())
        return self.database_up

    def _incomplete(
        self, missing: list[str], apply_failed: DatabaseProblem | None
    ) -> tuple[str, str]:
        """The state (what must change for a new log line) and the line, for a partial schema."""
        names = ", ".join(missing)
        where = self._target.label
        waiting = (
            f"Deliveries are acknowledged (202 queued) and kept in the spool {self._spool.path} "
            "until it is complete."
        )
        if apply_failed is not None:
            return (
                f"schema missing: {names}; applying it failed: {apply_failed.code}",
                f"database {where} is reachable but the pointage schema is incomplete (missing: "
                f"{names}) and applying it failed: {apply_failed}. {waiting} "
                f"To do: {self._todo(apply_failed)}.",
            )
        if self._schema_auto_apply:
            return (
                f"schema missing: {names}; applied, still missing",
                f"database {where} is reachable and sql/schema_pointage.sql ran, yet the pointage "
                f"schema is incomplete (missing: {names}): objects of another owner or another "
                f"search_path? {waiting} To do: check the role's search_path and apply the schema "
                "with `python -m service db apply`.",
            )
        return (
            f"schema missing: {names}",
            f"database {where} is reachable but the pointage schema is incomplete (missing: "
            f"{names}). {waiting} To do: apply the schema with `python -m service db apply` "
            "(SCHEMA_AUTO_APPLY is off).",
        )

    async def _apply_schema(self) -> DatabaseProblem | None:
        """Run the schema script; the problem when it fails (the caller decides what to log)."""
        try:
            self._applied = await apply_schema(self._target)  # what it did, in one line
        except Exception as exc:  # noqa: BLE001 - classified and reported by the probe
            problem = classify(exc)
            if problem.cause is Cause.PRIVILEGES:
                return DatabaseProblem(
                    problem.cause, f"permission denied while applying the schema: {problem}"
                )
            return problem
        return None
