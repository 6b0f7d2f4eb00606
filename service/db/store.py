"""Writing deliveries to PostgreSQL: punches into `pointage`, everything else into the inbox."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.corrections import apply_correction, apply_waiting_corrections
from service.domain.corrections import CORRECTION_EVENTS
from service.domain.delivery import Delivery
from service.repositories import PointageEvenementRepository, PointageRepository

Recorded = Literal["stored", "duplicate", "ignored"]


class DeliveryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], timeout: float) -> None:
        self._sessions = sessions
        self._timeout = timeout  # the whole transaction, connecting included, ends by then

    async def record(self, delivery: Delivery, received_at: datetime) -> Recorded:
        """Commit one delivery; raises on any database failure (the caller spools it)."""
        async with asyncio.timeout(self._timeout):
            async with self._sessions() as session, session.begin():
                if delivery.punch is not None:
                    pointages = PointageRepository(session=session)
                    added = await pointages.add_punch(delivery.punch, received_at)
                    if added:
                        await apply_waiting_corrections(session, delivery.punch)
                    return "stored" if added else "duplicate"
                inbox = PointageEvenementRepository(session=session)
                added = await inbox.add_event(delivery, received_at, statut="ignore")
                if added and delivery.event in CORRECTION_EVENTS:
                    await apply_correction(session, delivery)
                return "ignored" if added else "duplicate"
