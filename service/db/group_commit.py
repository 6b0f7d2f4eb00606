"""The group commit: punches arriving together share one transaction (see `GroupCommit`).

The store (store.py) hands it every punch; the drainer's chunks come through `add_all`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.corrections import apply_waiting_corrections
from service.db.errors import DatabaseUnavailable, DeliveryRefused
from service.db.repositories import PointageEvenementRepository, PointageRepository
from service.domain.delivery import Punch

Recorded = Literal["stored", "duplicate", "ignored", "applied"]


@dataclass(slots=True, eq=False)  # each one is itself: hashable by identity
class _Waiting:
    """A punch waiting for the transaction that will hold it."""

    punch: Punch
    received_at: datetime
    answer: asyncio.Future[Recorded]


class GroupCommit:
    """Punches arriving together share one transaction: one multi-row insert and one commit
    (one fsync) for all of them, each answered only once the commit that holds it is done. The
    insert is a statement that commits as it ends (one round trip, no BEGIN and COMMIT of their
    own); it leaves out the punches of a user a correction waits for, which a transaction of
    their own writes while it applies the correction.

    One transaction at a time while it keeps up: the punches arriving during a commit make the
    next batch, and the larger the batches the less each punch costs (measured: one writer takes
    1.1x to 1.2x the deliveries per second of four always started). Another writer starts, up to
    `writers`, when `crowd` punches wait or every running transaction began over `slow` seconds
    ago (commits take milliseconds): a transaction held up by a lock, or stuck on a connection
    the network silently dropped, does not hold up the punches behind it. A writer takes
    everything waiting when it starts, up to `max_batch`. A batch refused for the content of one
    of its rows is written again in halves, down to that row, so only that row fails.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        failure: Callable[[BaseException], DatabaseUnavailable | DeliveryRefused],
        writers: int = 4,
        *,
        crowd: int = 32,
        slow: float = 0.1,
        max_batch: int = 128,
    ) -> None:
        self._sessions = sessions
        self._failure = failure  # the store's classification of a failed write
        self._writers = writers
        self._crowd = crowd
        self._slow = slow
        self._latest_start = 0.0  # loop time the latest transaction began
        self._max_batch = max_batch
        self._busy = 0
        self._queue: list[_Waiting] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def add(
        self, punch: Punch, received_at: datetime, patience: float | None = None
    ) -> Recorded:
        """The punch's fate once its transaction ends; TimeoutError after `patience` seconds
        (the write goes on: only this caller stops waiting)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(punch, received_at, loop.create_future())
        self._queue.append(waiting)
        if self._needs_writer(loop.time()):
            self._busy += 1
            # Its own task: a caller that gives up (its time limit) does not cancel the others.
            task = asyncio.create_task(self._write_while_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if patience is None:
            return await waiting.answer
        # A timer on the answer rather than a task per punch around it (bounded): the hot path.
        timer = loop.call_later(patience, _time_out, waiting.answer)
        try:
            return await waiting.answer
        finally:
            timer.cancel()

    def _needs_writer(self, now: float) -> bool:
        if self._busy == 0:
            return True
        if self._busy >= self._writers:
            return False
        # Every running transaction is older than `slow`: stuck (a silent connection) or held
        # up (a lock), this punch must not wait for it.
        return len(self._queue) >= self._crowd or now - self._latest_start > self._slow

    async def add_all(
        self, punches: Sequence[tuple[Punch, datetime]], per_transaction: int, lanes: int = 2
    ) -> list[Recorded | DatabaseUnavailable | DeliveryRefused]:
        """Punches that are all here at once (the drainer's chunk), outside the queue: each one's
        fate, in order.

        The users are shared out among `lanes` written side by side, a connection each, each
        lane `per_transaction` punches to a transaction in the chunk's order. Lanes by user,
        not by position: two transactions holding the same users would wait for each other's
        locks, one after the other (measured on 2 cores: one lane kept PostgreSQL on one core).
        """
        loop = asyncio.get_running_loop()
        batch = [_Waiting(punch, at, loop.create_future()) for punch, at in punches]
        users = sorted({waiting.punch.timemoto_user_id for waiting in batch})
        lane_of = {user: n % lanes for n, user in enumerate(users)}
        by_lane: list[list[_Waiting]] = [[] for _ in range(lanes)]
        for waiting in batch:
            by_lane[lane_of[waiting.punch.timemoto_user_id]].append(waiting)
        gone: list[DatabaseUnavailable] = []

        async def write(lane: list[_Waiting]) -> None:
            for start in range(0, len(lane), per_transaction):
                if gone:  # after an outage, the rest would only wait for it again
                    for waiting in lane[start:]:
                        _settle(waiting.answer, gone[0])
                    return
                part = lane[start : start + per_transaction]
                await self._write(part)
                if (error := _outage_in(part)) is not None:
                    gone.append(error)

        await asyncio.gather(*(write(lane) for lane in by_lane if lane))
        return [_fate(waiting.answer) for waiting in batch]

    async def _write_while_waiting(self) -> None:
        try:
            while self._queue:
                # Batches that follow each other share a session and its connection: opening
                # one cost the client half as much again as the statement (measured, a batch
                # of 16: 554 us of CPU with a session each, 380 us sharing one).
                async with self._sessions() as session:
                    while self._queue:
                        batch = self._queue[: self._max_batch]
                        del self._queue[: self._max_batch]
                        self._latest_start = asyncio.get_running_loop().time()
                        if not await self._write(batch, session):
                            break  # whatever failed, the next batch starts on a fresh session
        finally:
            self._busy -= 1

    async def _write(
        self,
        batch: list[_Waiting],
        session: AsyncSession | None = None,
        *,
        corrections: bool = False,
    ) -> bool:
        """Commit the batch and settle each punch's answer; False if a statement failed (its
        session may be unusable). Its own statement first (one round trip), on `session` if
        given; the punches it leaves out, of users a correction waits for, in a transaction
        that applies the corrections too (`corrections`)."""
        try:
            later: list[_Waiting] = []
            if corrections:
                stored = await self._commit_with_corrections(batch)
            elif session is not None:
                stored, later = await self._commit(batch, session)
            else:
                async with self._sessions() as own:
                    stored, later = await self._commit(batch, own)
        except Exception as exc:  # noqa: BLE001 - classified, and told to each waiting caller
            error = self._failure(exc)
            if isinstance(error, DatabaseUnavailable) or len(batch) == 1:
                for waiting in batch:
                    _settle(waiting.answer, error)
                return False
            # One bad row must not fail its neighbours: each half again, down to that row
            # (a few transactions for a bad row among a hundred, not a hundred).
            half = len(batch) // 2
            await self._write(batch[:half], corrections=corrections)
            await self._write(batch[half:], corrections=corrections)
            return False
        left_out = set(later)
        for waiting in batch:
            if waiting not in left_out:
                first = stored.pop(waiting.punch.event_id, None) is waiting
                _settle(waiting.answer, "stored" if first else "duplicate")
        if later:
            await self._write(later, corrections=True)
        return True

    async def _commit(
        self, batch: list[_Waiting], session: AsyncSession
    ) -> tuple[dict[str, _Waiting], list[_Waiting]]:
        """The batch in one statement that commits on its own: its new punches, by delivery id
        (the first of each id in the batch), and the punches it left out for their corrections."""
        if not session.in_transaction():  # its first statement: the connection, set up once
            await session.connection(execution_options=_OWN_TRANSACTION)
        added, waits = await PointageRepository(
            session=session
        ).add_punches_unless_corrections_wait(_in_user_order(batch))
        later = [w for w in batch if w.punch.event_id in waits and w.punch.event_id not in added]
        return _first_of_each(batch, added), later

    async def _commit_with_corrections(self, batch: list[_Waiting]) -> dict[str, _Waiting]:
        """The batch in a transaction that also applies the corrections waiting for its punches:
        its new punches, by delivery id (the first of each id in the batch)."""
        async with self._sessions() as session, session.begin():
            pointages = PointageRepository(session=session)
            inbox = PointageEvenementRepository(session=session)
            added = await pointages.add_punches(_in_user_order(batch))
            stored = _first_of_each(batch, added)
            users = {waiting.punch.timemoto_user_id for waiting in stored.values()}
            for user in await inbox.users_with_waiting_corrections(users):
                for waiting in stored.values():
                    if waiting.punch.timemoto_user_id == user:
                        await apply_waiting_corrections(pointages, inbox, waiting.punch)
            return stored


# No BEGIN and no COMMIT: the database runs the statement as a transaction of its own and answers
# once it is committed (three round trips fewer than a transaction around it).
_OWN_TRANSACTION = {"isolation_level": "AUTOCOMMIT"}


def _in_user_order(batch: list[_Waiting]) -> list[tuple[Punch, datetime]]:
    """Rows in user order: concurrent batches take the users' locks in one order (no deadlock)."""
    rows = sorted(batch, key=lambda waiting: waiting.punch.timemoto_user_id)
    return [(waiting.punch, waiting.received_at) for waiting in rows]


def _first_of_each(batch: list[_Waiting], added: set[str]) -> dict[str, _Waiting]:
    stored: dict[str, _Waiting] = {}
    for waiting in batch:
        if waiting.punch.event_id in added:
            stored.setdefault(waiting.punch.event_id, waiting)
    return stored


def _settle(answer: asyncio.Future[Recorded], outcome: Recorded | Exception) -> None:
    if answer.done():  # its caller gave up waiting, or its transaction ended first
        return
    if isinstance(outcome, Exception):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


def _outage_in(batch: list[_Waiting]) -> DatabaseUnavailable | None:
    for waiting in batch:
        error = waiting.answer.exception()
        if isinstance(error, DatabaseUnavailable):
            return error
    return None


def _fate(answer: asyncio.Future[Recorded]) -> Recorded | DatabaseUnavailable | DeliveryRefused:
    error = answer.exception()
    if error is None:
        return answer.result()
    assert isinstance(error, DatabaseUnavailable | DeliveryRefused)  # what _write settles with
    return error


def _time_out(answer: asyncio.Future[Recorded]) -> None:
    _settle(answer, TimeoutError("the database did not answer in time"))
