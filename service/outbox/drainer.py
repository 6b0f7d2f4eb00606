"""When the database comes back: the background task that probes it and drains the spool.

The task sleeps until the breaker wakes it (a delivery was spooled, or a write found the database
gone). While the breaker is open it probes with backoff; once it closes, it writes the spooled
deliveries in order of arrival through the same write path as the webhook, and removes each from
the spool only after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.db.errors import DatabaseUnavailable, DeliveryRefused
from service.db.store import DeliveryStore
from service.domain.delivery import InvalidDelivery, NotJson, decode, parse_delivery
from service.outbox.breaker import Breaker
from service.outbox.spool import Spool, SpooledDelivery, SpoolError

log = logging.getLogger(__name__)

PROBE_FIRST_DELAY = 0.2  # seconds; doubled after each failed probe
PROBE_MAX_DELAY = 5.0
RETRY_DELAY = 30.0  # a delivery the database refused for its own content is tried again after
MAX_ATTEMPTS = 5  # ... that many times, then it goes to the quarantine (never dropped)
BATCH = 100


@dataclass(frozen=True, slots=True)
class DrainResult:
    written: int
    left: int


class Drainer:
    def __init__(
        self,
        store: DeliveryStore,
        spool: Spool,
        breaker: Breaker,
        reset_pool: Callable[[], Awaitable[None]],
        *,
        probe_max_delay: float = PROBE_MAX_DELAY,
    ) -> None:
        self._probe_max_delay = probe_max_delay
        self._store = store
        self._spool = spool
        self._breaker = breaker
        self._reset_pool = reset_pool
        self._task: asyncio.Task[None] | None = None

    async def drain(self) -> DrainResult:
        """Write the spooled deliveries in order of arrival; stop at the first outage."""
        written, after = 0, 0
        while batch := await asyncio.to_thread(self._spool.oldest, BATCH, after):
            for item in batch:
                after = item.seq
                outage = await self._write(item)
                if outage:
                    return DrainResult(written, await asyncio.to_thread(self._spool.pending))
                if outage is None:
                    written += 1
                    available = self._breaker.available()
                    self._breaker.confirmed_up(f"{available}; writing the spooled deliveries")
        left = await asyncio.to_thread(self._spool.pending)
        if written:
            log.info("spool: %d deliveries written to the database, %d left", written, left)
            await asyncio.to_thread(self._spool.compact)  # room back on disk, the reserve too
        return DrainResult(written, left)

    async def _write(self, item: SpooledDelivery) -> bool | None:
        """None: written (or already there); False: refused for its content; True: outage."""
        try:
            delivery = parse_delivery(decode(item.body))
        except (NotJson, InvalidDelivery) as exc:
            await asyncio.to_thread(self._spool.move_to_quarantine, item, str(exc))
            return False
        try:
            await self._store.record(delivery, item.received_at)
        except DatabaseUnavailable as exc:
            await asyncio.to_thread(self._spool.failed, item.seq, str(exc.problem))
            self._breaker.trip(exc.problem)
            return True
        except DeliveryRefused as exc:
            reason = str(exc.problem)
            await asyncio.to_thread(self._spool.failed, item.seq, reason)
            log.error("spooled delivery %s refused by the database: %s", item.event_id, reason)
            if item.attempts + 1 >= MAX_ATTEMPTS:
                await asyncio.to_thread(self._spool.move_to_quarantine, item, reason)
            return False
        await asyncio.to_thread(self._spool.remove, item.seq)  # only after the commit
        return None

    async def drain_once(self) -> DrainResult:
        """Probe, then drain if the database is there (`python -m service spool drain`)."""
        if not await self._breaker.probe():
            return DrainResult(0, await asyncio.to_thread(self._spool.pending))
        return await self.drain()

    # -- the background task --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="spool-drainer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        breaker = self._breaker
        delay = min(PROBE_FIRST_DELAY, self._probe_max_delay)
        while True:
            breaker.wake.clear()
            try:
                if breaker.pool_stale:
                    breaker.pool_stale = False
                    await self._reset_pool()
                if not breaker.database_up:
                    await breaker.probe()
                left = (await self.drain()).left if breaker.database_up else 1
            except SpoolError as exc:
                log.error("%s", exc)
                left = 1
            except Exception:  # the task must outlive any surprise
                log.exception("spool recovery failed; trying again")
                left = 1
            if not breaker.recovering:
                delay = min(PROBE_FIRST_DELAY, self._probe_max_delay)
            if breaker.database_up:
                timeout = RETRY_DELAY if left else None
            else:
                timeout, delay = delay, min(delay * 2, self._probe_max_delay)
                breaker.wake.clear()  # a failure seen during this round is no reason to hurry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(breaker.wake.wait(), timeout)
