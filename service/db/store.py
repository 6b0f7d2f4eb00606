"""The one write path: a delivery committed to PostgreSQL, or a typed reason why not.

Punches go into `pointage`, every other event into the inbox `pointage_evenement`. The webhook and
the drainer both write through `DeliveryStore.record`, with one time limit and one classification
of failures (`service.db.errors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.corrections import apply_correction, apply_waiting_corrections
from service.db.errors import DatabaseUnavailable, DeliveryRefused, classify
from service.db.repositories import PointageEvenementRepository, PointageRepository
from service.domain.corrections import CORRECTION_EVENTS
from service.domain.delivery import Delivery

Recorded = Literal["stored", "duplicate", "ignored", "applied"]
T = TypeVar("T")


async def bounded(work: Coroutine[Any, Any, T], seconds: float) -> T:
    """`work`, or TimeoutError after `seconds` at the most.

    Unlike `asyncio.wait_for`, the caller does not wait for the cancelled work to unwind: a
    connection to a server that never answers can take long to give up its transaction.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        raise TimeoutError("the database did not answer in time")
    return task.result()


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


class DeliveryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], timeout: float) -> None:
        self._sessions = sessions
        # A delivery waits this long for the database at most (DB_CONNECT_TIMEOUT), whoever
        # writes it: then it is the spool's.
        self._timeout = timeout

    async def record(self, delivery: Delivery, received_at: datetime) -> Recorded:
        """Commit one delivery.

        Raises DatabaseUnavailable when the database cannot take it now (the caller spools it),
        DeliveryRefused when the database refused this delivery for what it holds.
        """
        try:
            return await bounded(self._commit(delivery, received_at), self._timeout)
        except Exception as exc:
            problem = classify(exc)
            if problem.kind.is_outage:
                raise DatabaseUnavailable(problem) from exc
            raise DeliveryRefused(problem) from exc

    async def _commit(self, delivery: Delivery, received_at: datetime) -> Recorded:
        async with self._sessions() as session, session.begin():
            pointages = PointageRepository(session=session)
            inbox = PointageEvenementRepository(session=session)
            if delivery.punch is not None:
                added = await pointages.add_punch(delivery.punch, received_at)
                if added is None:
                    return "duplicate"
                await apply_waiting_corrections(pointages, inbox, delivery.punch)
                return "stored"
            if not await inbox.add_event(delivery, received_at, statut="ignore"):
                return "duplicate"
            if delivery.event in CORRECTION_EVENTS and await apply_correction(
                pointages, inbox, delivery
            ):
                return "applied"
            return "ignored"
