"""A month's payroll, read for the export (`GET /api/export/…`, `python -m service export`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.errors import DatabaseProblem, classify
from service.db.export_queries import read_payroll
from service.domain.payroll import Month, Payroll

# What a read may meet when the database is away: its problem is named, nothing else is caught.
DATABASE_ERRORS = (sqlalchemy.exc.SQLAlchemyError, asyncpg.PostgresError, OSError, TimeoutError)


class PayrollUnavailable(Exception):
    """The database could not give the month; `problem` says why."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.sentence)
        self.problem = problem


class PayrollReader:
    """The month's figures as the workshop's zone dates them (`WORKING_TIMEZONE`)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    async def read(
        self, session: AsyncSession, month: Month, now: datetime | None = None
    ) -> Payroll:
        try:
            return await read_payroll(session, month, self.zone, now)
        except DATABASE_ERRORS as exc:
            raise PayrollUnavailable(classify(exc)) from exc
