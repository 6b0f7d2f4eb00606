"""Draining the spool: the spooled deliveries written in order of arrival through the same write
path as the webhook, each removed from the spool only after its commit. `Recovery` decides when
(recovery.py); the drainer tells it of an outage met on the way and of the first commit.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from service.db.errors import DatabaseProblem, DatabaseUnavailable, DeliveryRefused
from service.db.store import DeliveryStore, Recorded
from service.domain.delivery import Delivery, InvalidDelivery, NotJson, parse_body
from service.outbox.spool import Spool, SpooledDelivery

log = logging.getLogger(__name__)

# Spooled deliveries read at once, and punches per transaction: measured on 50,000 spooled
# (`python -m bench drain`), 500 and 500 drained 6,100/s, 1,000 and 250 6,100/s, 1,000 and 500
# 6,600/s, 1,000 and 1,000 no more; a transaction refused for one row is retried in halves.
# Later, on a machine where that drain took 3,950 to 4,480/s: written in two lanes by user
# (GroupCommit.add_all), 4,780 to 5,880/s; the next chunk read while one is written, 5,540 to
# 6,960/s (three lanes: 4,690 to 4,750/s, on 2 cores).
BATCH = 1000
PER_TRANSACTION = 500


class Fate(enum.Enum):
    WRITTEN = "written"  # committed, or already there
    INVALID = "invalid"  # no longer passes validation (a rule changed since it was spooled)
    REFUSED = "refused"  # the database refuses it for its content
    OUTAGE = "outage"  # the database could not take it


@dataclass(frozen=True, slots=True)
class Outcome:
    fate: Fate
    reason: str = ""
    problem: DatabaseProblem | None = None


def _is_punch(delivery: Delivery | None) -> bool:
    return delivery is not None and delivery.punch is not None


def _outcome(fate: Recorded | DatabaseUnavailable | DeliveryRefused) -> Outcome:
    if isinstance(fate, DatabaseUnavailable):
        return Outcome(Fate.OUTAGE, str(fate.problem), fate.problem)
    if isinstance(fate, DeliveryRefused):
        return Outcome(Fate.REFUSED, f"refused by the database: {fate.problem}")
    return Outcome(Fate.WRITTEN)


class _Read(NamedTuple):
    chunk: list[SpooledDelivery]
    deliveries: dict[int, Delivery]
    outcomes: dict[int, Outcome]  # of those that no longer parse


@dataclass(frozen=True, slots=True)
class DrainResult:
    written: int
    left: int


class Drainer:
    def __init__(
        self,
        store: DeliveryStore,
        spool: Spool,
        *,
        outage: Callable[[DatabaseProblem], Awaitable[bool]],
        written: Callable[[], None],
    ) -> None:
        """`outage`: a write failed for want of the database; True when it still takes writes
        (a probe decides). `written`: deliveries were committed (the database is back)."""
        self._store = store
        self._spool = spool
        self._outage = outage
        self._written = written

    async def drain(self) -> DrainResult:
        """Write the spooled deliveries, oldest first, a chunk at a time; stop at an outage.

        A chunk's punches go through the group commit together (their order does not matter:
        worked time follows the punches' instants); its other events follow one by one, in
        order of arrival (two corrections of one clocking must apply in their order). What was
        committed leaves the spool in one transaction. With several workers on one spool, one
        drains at a time; the others find the lock taken and leave it to that one.
        """
        with self._spool.draining() as mine:
            if not mine:
                return DrainResult(0, await asyncio.to_thread(self._spool.pending))
            return await self._drain()

    async def _drain(self) -> DrainResult:
        written = 0
        # While a chunk is written, the next one is read and parsed and the one before leaves the
        # spool, in threads beside PostgreSQL's work (the spool's lock takes them in turn).
        upcoming = asyncio.ensure_future(asyncio.to_thread(self._read, 0))
        removing: asyncio.Future[None] | None = None
        try:
            while (read := await upcoming).chunk:
                chunk, deliveries, outcomes = read
                upcoming = asyncio.ensure_future(asyncio.to_thread(self._read, chunk[-1].seq))
                punches = [item for item in chunk if _is_punch(deliveries.get(item.seq))]
                outcomes.update(await self._write_punches(punches, deliveries))
                for item in chunk:
                    if item.seq in deliveries and item.seq not in outcomes:
                        outcomes[item.seq] = await self._write(item, deliveries[item.seq])
                committed = [seq for seq, out in outcomes.items() if out.fate is Fate.WRITTEN]
                if removing is not None:
                    await removing
                # Only after the commit; a crash before it leaves duplicates, which drain as such.
                removing = asyncio.ensure_future(
                    asyncio.to_thread(self._spool.remove_many, committed)
                )
                if committed:
                    written += len(committed)
                    self._written()
                if not await self._settle_failures(chunk, outcomes):
                    await removing
                    return DrainResult(written, await asyncio.to_thread(self._spool.pending))
        finally:
            upcoming.cancel()  # a read only: the thread finishes it, no one waits for it
            if removing is not None and not removing.done():
                await asyncio.shield(removing)
        left = await asyncio.to_thread(self._spool.pending)
        if written:
            log.info("spool: %d deliveries written to the database, %d left", written, left)
            await asyncio.to_thread(self._spool.compact)  # room back on disk, the reserve too
        return DrainResult(written, left)

    def _read(self, after: int) -> _Read:
        """The next chunk after `after`, parsed; a delivery that no longer parses has its
        outcome already."""
        chunk = self._spool.oldest(BATCH, after)
        deliveries: dict[int, Delivery] = {}
        outcomes: dict[int, Outcome] = {}
        for item in chunk:
            try:
                deliveries[item.seq] = parse_body(item.body)
            except (NotJson, InvalidDelivery) as exc:
                outcomes[item.seq] = Outcome(Fate.INVALID, str(exc))
        return _Read(chunk, deliveries, outcomes)

    async def _write_punches(
        self, items: list[SpooledDelivery], deliveries: dict[int, Delivery]
    ) -> dict[int, Outcome]:
        """The chunk's punches in a few large transactions, not a task and a wait apiece."""
        punches = []
        for item in items:
            punch = deliveries[item.seq].punch
            assert punch is not None
            punches.append((punch, item.received_at))
        fates = await self._store.record_punches(punches, PER_TRANSACTION)
        return {item.seq: _outcome(fate) for item, fate in zip(items, fates, strict=True)}

    async def _write(self, item: SpooledDelivery, delivery: Delivery) -> Outcome:
        try:
            await self._store.record(delivery, item.received_at)
        except (DatabaseUnavailable, DeliveryRefused) as exc:
            return _outcome(exc)
        return Outcome(Fate.WRITTEN)

    async def _settle_failures(
        self, chunk: list[SpooledDelivery], outcomes: dict[int, Outcome]
    ) -> bool:
        """Quarantine what can never be written; False when the database is gone."""
        outages = []
        for item in chunk:
            outcome = outcomes[item.seq]
            if outcome.fate is Fate.INVALID:
                await asyncio.to_thread(self._spool.move_to_quarantine, item, outcome.reason)
            elif outcome.fate is Fate.REFUSED:
                await self._set_aside(item, outcome.reason)
            elif outcome.fate is Fate.OUTAGE:
                await asyncio.to_thread(self._spool.failed, item.seq, outcome.reason)
                outages.append(item)
        if not outages:
            return True
        problem = outcomes[outages[0].seq].problem
        assert problem is not None
        # False: the database is gone, the spool waits, in order. True: it is there, yet these
        # failed (a timeout while it was slow, say); nothing says they are at fault, so they stay
        # spooled and are tried again later, without holding up the ones behind them. Only a
        # refusal for content sets a delivery aside.
        return await self._outage(problem)

    async def _set_aside(self, item: SpooledDelivery, reason: str) -> None:
        """The safety net: the intake's checks should make this never happen."""
        log.warning(
            "spooled delivery %s moved to the quarantine, the database refuses it: %s",
            item.event_id,
            reason,
        )
        await asyncio.to_thread(self._spool.move_to_quarantine, item, reason)
