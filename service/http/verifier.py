"""`GET /api/database/verifier-tables-pointage`: is the database there, and the schema complete?"""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from service.http import paths
from service.http.openapi import VERIFIER_ANSWERS, responses
from service.operations.verification import Verification, VerifierAnswer


@get(paths.VERIFIER, responses=responses(VerifierAnswer, VERIFIER_ANSWERS))
async def verifier_tables_pointage(
    verification: NamedDependency[Verification],
) -> Response[VerifierAnswer]:
    """The database and every object of the schema (docs/contract.md §4): 200 when all is in
    place."""
    answer = await verification.verifier()
    return Response(answer, status_code=200 if answer.ok else 503)
