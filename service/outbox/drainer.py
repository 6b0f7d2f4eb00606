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
    ) -> None:
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
            reason = str(exc.problem)
            await asyncio.to_thread(self._spool.failed, item.seq, reason)
            self._breaker.write_failed(exc.problem)
            if not await self._breaker.decide():
                return True  # the database is gone: the spool waits, in order
            # The database is there: the failure was this delivery's. It is tried again later,
            # then set aside, but never holds up the ones behind it.
            if item.attempts + 1 >= MAX_ATTEMPTS:
                await self._set_aside(item, reason)
            return False
        except DeliveryRefused as exc:
            await self._set_aside(item, f"refused by the database: {exc.problem}")
            return False
        await asyncio.to_thread(self._spool.remove, item.seq)  # only after the commit
        return None

    async def _set_aside(self, item: SpooledDelivery, reason: str) -> None:
        """The safety net: the intake's checks should make this never happen."""
        log.warning(
            "spooled delivery %s moved to the quarantine, the database refuses it: %s",
            item.event_id,
            reason,
        )
        await asyncio.to_thread(self._spool.move_to_quarantine, item, reason)

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
        delay = PROBE_FIRST_DELAY
        while True:
            breaker.wake.clear()
            try:
                if breaker.pool_stale:
                    breaker.pool_stale = False
                    await self._reset_pool()
                if breaker.suspected:
                    await breaker.decide()
                elif not breaker.database_up:
                    await breaker.probe()
                left = (await self.drain()).left if breaker.database_up else 1
            except SpoolError as exc:
                log.error("%s", exc)
                left = 1
            except Exception:  # the task must outlive any surprise
                log.exception("spool recovery failed; trying again")
                left = 1
            if not breaker.recovering:
                delay = PROBE_FIRST_DELAY
            if breaker.database_up:
                timeout = RETRY_DELAY if left else None
            else:
                timeout, delay = delay, min(delay * 2, PROBE_MAX_DELAY)
                breaker.wake.clear()  # a failure seen during this round is no reason to hurry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(breaker.wake.wait(), timeout)
