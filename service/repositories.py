"""Advanced Alchemy repositories over the pointage tables."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy.dialects.postgresql import insert

from service.db.models import Pointage, PointageEvenement
from service.domain.delivery import Delivery, Punch


class PointageRepository(SQLAlchemyAsyncRepository[Pointage]):
    model_type = Pointage

    async def add_punch(self, punch: Punch, received_at: datetime) -> bool:
        """Insert the punch unless its delivery id is already stored; True if a row was added.

        The unique key on `event_id` decides, so two concurrent deliveries of one id cannot both
        insert (no read-then-write race).
        """
        statement = (
            insert(Pointage)
            .values(**asdict(punch), recu_le=received_at)
            .on_conflict_do_nothing(index_elements=[Pointage.event_id])
            .returning(Pointage.id)
        )
        result = await self.session.execute(statement)
        return result.scalar_one_or_none() is not None


class PointageEvenementRepository(SQLAlchemyAsyncRepository[PointageEvenement]):
    model_type = PointageEvenement

    async def add_event(self, delivery: Delivery, received_at: datetime, statut: str) -> bool:
        """Keep a delivery that is not a new punch; True unless its id was already kept."""
        statement = (
            insert(PointageEvenement)
            .values(
                event_id=delivery.event_id,
                event=delivery.event,
                statut=statut,
                payload=delivery.document,
                recu_le=received_at,
            )
            .on_conflict_do_nothing(index_elements=[PointageEvenement.event_id])
            .returning(PointageEvenement.id)
        )
        result = await self.session.execute(statement)
        return result.scalar_one_or_none() is not None
