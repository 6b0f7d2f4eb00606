"""Applying `attendance.updated` / `attendance.deleted` to `pointage` (rules: corrections.py).

Runs inside the transaction that keeps the correction in the inbox (or, for a correction that
came first, the one that stores its punch); the trigger on `pointage` then keeps the worked time
right. The inbox row says what happened: `applique` with the punch's
id, or `non_applique` with the reason.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.corrections import (
    APPLIED,
    ATTENDANCE_DELETED,
    UNAPPLIED,
    Candidate,
    Match,
    Unapplied,
    clocking_ref,
    match,
)
from service.domain.delivery import (
    Delivery,
    Envelope,
    InvalidDelivery,
    Punch,
    parse_delivery,
    parse_punch,
)

_CANDIDATES = text(
    """
    SELECT id, payload -> 'data' ->> 'timeInserted', payload -> 'data' ->> 'recordHash'
      FROM pointage
     WHERE timemoto_user_id = :user_id
       AND (payload -> 'data' ->> 'timeInserted' = :time_inserted
            OR payload -> 'data' ->> 'recordHash' = :record_hash)
    """
)
# Corrections that came before the punch they name (TimeMoto does not promise an order).
_WAITING = text(
    """
    SELECT payload FROM pointage_evenement
     WHERE statut = 'non_applique' AND event IN ('attendance.updated', 'attendance.deleted')
       AND payload -> 'data' ->> 'userId' = :user_id
       AND (payload -> 'data' ->> 'timeInserted' = :time_inserted
            OR payload -> 'data' ->> 'recordHash' = :record_hash)
     ORDER BY recu_le, id
    """
).columns(payload=JSONB)
_DELETE = text("DELETE FROM pointage WHERE id = :id")
_UPDATE = text(
    """
    UPDATE pointage
       SET type_pointage = :type_pointage, horodatage = :horodatage,
           horodatage_brut = :horodatage_brut, fuseau_horaire = :fuseau_horaire,
           date_travail = :date_travail, ignore = :ignore
     WHERE id = :id
    """
)
_OUTCOME = text(
    "UPDATE pointage_evenement SET statut = :statut, pointage_id = :pointage_id, motif = :motif"
    " WHERE event_id = :event_id"
)


async def apply_correction(session: AsyncSession, delivery: Delivery) -> None:
    """Apply the correction to the one punch it names, or record why it was not applied."""
    outcome = await _apply(session, delivery)
    pointage_id = outcome.pointage_id if isinstance(outcome, Match) else None
    motif = outcome.motif if isinstance(outcome, Unapplied) else None
    await session.execute(
        _OUTCOME,
        {
            "statut": APPLIED if pointage_id is not None else UNAPPLIED,
            "pointage_id": pointage_id,
            "motif": motif,
            "event_id": delivery.event_id,
        },
    )


async def _apply(session: AsyncSession, delivery: Delivery) -> Match | Unapplied:
    ref = clocking_ref(delivery.document)
    if isinstance(ref, Unapplied):
        return ref
    rows = await session.execute(
        _CANDIDATES,
        {
            "user_id": ref.user_id,
            "time_inserted": ref.time_inserted,
            "record_hash": None if ref.record_hash is None else str(ref.record_hash),
        },
    )
    candidates = [Candidate(row[0], row[1], _int_or_none(row[2])) for row in rows]
    found = match(ref, candidates)
    if isinstance(found, Unapplied):
        return found
    if delivery.event == ATTENDANCE_DELETED:
        await session.execute(_DELETE, {"id": found.pointage_id})
        return found
    try:
        punch = parse_punch(msgspec.convert(delivery.document, Envelope), delivery.document)
    except (InvalidDelivery, msgspec.ValidationError) as exc:
        return Unapplied(f"the corrected clocking is not valid: {exc}")
    values: dict[str, Any] = {
        "id": found.pointage_id,
        "type_pointage": punch.type_pointage,
        "horodatage": punch.horodatage,
        "horodatage_brut": punch.horodatage_brut,
        "fuseau_horaire": punch.fuseau_horaire,
        "date_travail": punch.date_travail,
        "ignore": punch.ignore,
    }
    await session.execute(_UPDATE, values)
    return found


async def apply_waiting_corrections(session: AsyncSession, punch: Punch) -> None:
    """A new punch may be the one an earlier, unapplied correction named: apply those now, in
    their order of arrival (an update then a delete of one clocking ends deleted)."""
    ref = clocking_ref(punch.payload)
    if isinstance(ref, Unapplied):
        return
    rows = await session.execute(
        _WAITING,
        {
            "user_id": ref.user_id,
            "time_inserted": ref.time_inserted,
            "record_hash": None if ref.record_hash is None else str(ref.record_hash),
        },
    )
    for (payload,) in rows.all():
        await apply_correction(session, parse_delivery(payload))


def _int_or_none(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
