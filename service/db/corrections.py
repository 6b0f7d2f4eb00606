"""Applying `attendance.updated` / `attendance.deleted` to `pointage` (rules: domain/corrections).

Runs inside the transaction that keeps the correction in the inbox (or, for a correction that
came first, the one that stores its punch); the trigger on `pointage` then keeps the worked time
right. The inbox row says what happened: `applique` with the punch's id, or `non_applique` with
the reason.
"""

from __future__ import annotations

import msgspec

from service.db.repositories import PointageEvenementRepository, PointageRepository
from service.domain.corrections import (
    APPLIED,
    UNAPPLIED,
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
from service.domain.timemoto import ATTENDANCE_DELETED


async def apply_correction(
    pointages: PointageRepository, inbox: PointageEvenementRepository, delivery: Delivery
) -> bool:
    """Apply the correction to the one punch it names (True), or record why it was not."""
    await pointages.lock_user_of(delivery.document)
    outcome = await _apply(pointages, delivery)
    if isinstance(outcome, Match):
        await inbox.set_outcome(delivery.event_id, APPLIED, outcome.pointage_id, None)
        return True
    await inbox.set_outcome(delivery.event_id, UNAPPLIED, None, outcome.motif)
    return False


async def _apply(pointages: PointageRepository, delivery: Delivery) -> Match | Unapplied:
    ref = clocking_ref(delivery.document)
    if isinstance(ref, Unapplied):
        return ref
    found = match(ref, await pointages.candidates(ref))
    if isinstance(found, Unapplied):
        return found
    if delivery.event == ATTENDANCE_DELETED:
        await pointages.remove(found.pointage_id)
        return found
    try:
        punch = parse_punch(msgspec.convert(delivery.document, Envelope), delivery.document)
    except (InvalidDelivery, msgspec.ValidationError) as exc:
        return Unapplied(f"the corrected clocking is not valid: {exc}")
    await pointages.correct(found.pointage_id, punch)
    return found


async def apply_waiting_corrections(
    pointages: PointageRepository, inbox: PointageEvenementRepository, punch: Punch
) -> None:
    """A new punch may be the one an earlier, unapplied correction named: apply those now, in
    their order of arrival (an update then a delete of one clocking ends deleted)."""
    ref = clocking_ref(punch.payload)
    if isinstance(ref, Unapplied):
        return
    for payload in await inbox.waiting_corrections(ref):
        await apply_correction(pointages, inbox, parse_delivery(payload))
