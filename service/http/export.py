"""`GET /api/export/{YYYY-MM}.xlsx` and `.csv`: the month-end payroll export (docs/contract.md §7).

An operators' path: the router that holds it carries the operators' guard (service/http/operators).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ServiceUnavailableException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.payroll import MonthError
from service.domain.payroll_files import (
    MEDIA_TYPES,
    UnknownFormat,
    export_filename,
    parse_export_name,
    render,
)
from service.http import paths
from service.operations.payroll import PayrollReader, PayrollUnavailable

log = logging.getLogger(__name__)

# Exactly this, ASCII digits only (`\d` would take `２０２６`), nothing around it, no trailing `/`.
EXPORT_NAME = re.compile(r"[0-9]{4}-[0-9]{2}\.(?:xlsx|csv)")

ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "status": Schema(type=OpenAPIType.STRING, const="error"),
        "reason": Schema(type=OpenAPIType.STRING),
    },
    required=["status", "reason"],
)
FILE_SCHEMA = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
ANSWERS = {
    401: "No credentials, or wrong ones (`WWW-Authenticate: Basic`): sign in as admin.",
    404: "ADMIN_PASSWORD is not set (the operators' paths are off), or not .xlsx/.csv.",
    422: "Not a month: YYYY-MM, e.g. 2026-11.",
    429: "Too many failed sign-ins from this address: wait `Retry-After` seconds.",
    503: "The database cannot answer now; the reason says why.",
}


@dataclass
class ExportOperation(Operation):
    """The export answers a file (xlsx or csv) or a JSON error: say both, status by status."""

    def __post_init__(self) -> None:
        error = {"application/json": OpenAPIMediaType(schema=ERROR_SCHEMA)}
        files = {media: OpenAPIMediaType(schema=FILE_SCHEMA) for media in MEDIA_TYPES.values()}
        self.responses = {
            "200": OpenAPIResponse(
                description="The workbook (Récapitulatif, Détail par jour, Anomalies) or the "
                "CSV of its Récapitulatif (UTF-8 with a BOM, `;`, decimal comma).",
                content=dict(files),
            ),
            **{
                str(status): OpenAPIResponse(description=description, content=dict(error))
                for status, description in ANSWERS.items()
            },
        }


@get(
    f"{paths.EXPORT}/{{name:str}}",
    summary="Month-end payroll export (xlsx or csv)",
    operation_class=ExportOperation,
)
async def export_month(
    name: FromPath[str],
    request: Request[Any, Any, Any],
    payroll_reader: NamedDependency[PayrollReader],
    db_session: NamedDependency[AsyncSession],
) -> Response[bytes]:
    """`YYYY-MM.xlsx` (sheets Récapitulatif, Détail par jour, Anomalies) or `YYYY-MM.csv` (the
    Récapitulatif). 422 for a month that does not exist, 503 when the database cannot answer."""
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    if raw_path.endswith(b"/") or not name.endswith((".xlsx", ".csv")):  # Litestar drops a `/`
        raise NotFoundException(detail=f"ask for YYYY-MM.xlsx or YYYY-MM.csv, not {name!r}")
    if not EXPORT_NAME.fullmatch(name):
        raise HTTPException(
            status_code=422,
            detail=f"the month must be written YYYY-MM (e.g. 2026-11), not {name!r}",
        )
    try:
        month, fmt = parse_export_name(name)
    except UnknownFormat as exc:
        raise NotFoundException(detail=str(exc)) from None
    except MonthError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    try:
        payroll = await payroll_reader.read(db_session, month)
    except PayrollUnavailable as exc:
        log.warning("export %s not made: %s", month, exc.problem)
        raise ServiceUnavailableException(detail=f"database unavailable: {exc.problem}") from None
    body = await asyncio.to_thread(render, payroll, fmt)  # openpyxl takes a while: off the loop
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(month, fmt)}"',
            "Cache-Control": "no-store",
        },
    )
