"""What a reconciliation with TimeMoto's export reads (docs/contract.md §9): the clockings stored
for some users over some days, and the names `equipe` gives them. Reads only."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Equipe, Pointage
from service.domain.reconcile import StoredPunch


async def read_stored(
    session: AsyncSession, users: Collection[str], first: date, last: date
) -> list[StoredPunch]:
    """The users' clockings whose day (`date_travail`, the punch's own zone) is in the range."""
    if not users:
        return []
    statement = select(
        Pointage.timemoto_user_id,
        Pointage.horodatage,
        Pointage.type_pointage,
        Pointage.date_travail,
        Pointage.fuseau_horaire,
        Pointage.ignore,
    ).where(
        Pointage.timemoto_user_id.in_(sorted(users)),
        Pointage.date_travail.between(first, last),
    )
    return [StoredPunch(*row) for row in (await session.execute(statement)).all()]


async def read_names(session: AsyncSession, users: Collection[str]) -> dict[str, str]:
    """`Prénom Nom` of the users `equipe` maps."""
    if not users:
        return {}
    statement = select(Equipe.timemoto_user_id, Equipe.prenom, Equipe.nom).where(
        Equipe.timemoto_user_id.in_(sorted(users))
    )
    names = {}
    for user, first, last in (await session.execute(statement)).all():
        name = " ".join(part for part in (first, last) if part)
        if user is not None and name:
            names[user] = name
    return names
