"""`GET /api/export/{YYYY-MM}.xlsx` and `.csv`: the month-end payroll export (CONTRACT §7).

An operators' path: the router that holds it carries the operators' guard (service/http/operators).
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

import asyncpg
import sqlalchemy.exc
from litestar import Response, get
from litestar.exceptions import HTTPException, NotFoundException, ServiceUnavailableException

from service.db.errors import classify
from service.db.export_queries import read_payroll
from service.domain.payroll import MonthError
from service.domain.payroll_files import (
    MEDIA_TYPES,
    UnknownFormat,
    export_filename,
    parse_export_name,
    render,
)
from service.http import paths
from service.runtime import Runtime

log = logging.getLogger(__name__)

DATABASE_ERRORS = (sqlalchemy.exc.SQLAlchemyError, asyncpg.PostgresError, OSError, TimeoutError)


@get(f"{paths.EXPORT}/{{name:str}}", summary="Month-end payroll export (xlsx or csv)")
async def export_month(name: str, runtime: Runtime) -> Response[bytes]:
    """`YYYY-MM.xlsx` (sheets Récapitulatif, Détail par jour, Anomalies) or `YYYY-MM.csv` (the
    Récapitulatif). 422 for a month that does not exist, 503 when the database cannot answer."""
    try:
        month, fmt = parse_export_name(name)
    except UnknownFormat as exc:
        raise NotFoundException(detail=str(exc)) from None
    except MonthError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    zone = ZoneInfo(runtime.settings.working_timezone)
    try:
        payroll = await read_payroll(runtime.engine, month, zone)
    except DATABASE_ERRORS as exc:
        problem = classify(exc)
        log.warning("export %s not made: %s", month, problem)
        raise ServiceUnavailableException(detail=f"database unavailable: {problem}") from None
    body = await asyncio.to_thread(render, payroll, fmt)  # openpyxl takes a while: off the loop
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(month, fmt)}"',
            "Cache-Control": "no-store",
        },
    )
