"""The one write path: a delivery committed to PostgreSQL, or a typed reason why not.

Punches go into `pointage`, every other event into the inbox `pointage_evenement`. The webhook and
the drainer both write through `DeliveryStore.record`, with one time limit and one classification
of failures (`DeliveryStore.failure`, on `service.db.errors`). Punches go through the group commit
(group_commit.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.corrections import apply_correction
from service.db.errors import DatabaseUnavailable, DeliveryRefused, classify
from service.db.group_commit import GroupCommit, Recorded
from service.db.repositories import PointageEvenementRepository, PointageRepository
from service.domain.corrections import CORRECTION_EVENTS
from service.domain.delivery import Delivery, Punch

__all__ = ["DeliveryStore", "Recorded", "bounded"]

log = logging.getLogger(__name__)

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
    """Every write ends: the connection's own limits bound it (DB_CONNECT_TIMEOUT to connect,
    DB_STATEMENT_TIMEOUT per statement, client and server side; see engine.py)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], writers: int = 4) -> None:
        self._sessions = sessions
        self._unexpected_seen: set[str] = set()
        self._punches = GroupCommit(sessions, self.failure, writers)

    def failure(self, exc: BaseException) -> DatabaseUnavailable | DeliveryRefused:
        """What a failed write means for its delivery: the one classification of the write path.

        A failure the database did not explain (a bug of ours, say) is an outage: the delivery is
        spooled, not refused, and each kind of it is logged once with its traceback."""
        problem = classify(exc)
        if problem.unexpected:
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
            if kind not in self._unexpected_seen:
                self._unexpected_seen.add(kind)
                log.error("a write failed unexpectedly; deliveries are spooled", exc_info=exc)
        return (DatabaseUnavailable if problem.is_outage else DeliveryRefused)(problem)

    async def record(
        self, delivery: Delivery, received_at: datetime, *, patience: float | None = None
    ) -> Recorded:
        """Commit one delivery.

        `patience`: how long the caller waits at most (the webhook: then it spools the delivery
        and answers; the write goes on, and if it commits, the spooled copy drains as a
        duplicate). Raises DatabaseUnavailable when the database cannot take it now (the caller
        spools it), DeliveryRefused when the database refused this delivery for its content.
        """
        try:
            if delivery.punch is not None:
                return await self._punches.add(delivery.punch, received_at, patience)
            work = self._commit(delivery, received_at)
            return await (work if patience is None else bounded(work, patience))
        except (DatabaseUnavailable, DeliveryRefused):
            raise
        except Exception as exc:
            raise self.failure(exc) from exc

    async def record_punches(
        self, punches: Sequence[tuple[Punch, datetime]], per_transaction: int
    ) -> list[Recorded | DatabaseUnavailable | DeliveryRefused]:
        """Commit many punches at once (the drainer's chunk), `per_transaction` to a
        transaction; each one's fate, in order: what `record` returns, or what it raises."""
        return await self._punches.add_all(punches, per_transaction)

    async def _commit(self, delivery: Delivery, received_at: datetime) -> Recorded:
        """Any other event: into the inbox, and a correction applied to its punch."""
        async with self._sessions() as session, session.begin():
            pointages = PointageRepository(session=session)
            inbox = PointageEvenementRepository(session=session)
            if not await inbox.add_event(delivery, received_at, statut="ignore"):
                return "duplicate"
            if delivery.event in CORRECTION_EVENTS and await apply_correction(
                pointages, inbox, delivery
            ):
                return "applied"
            return "ignored"
