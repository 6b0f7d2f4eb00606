"""Recovery: one object owns the database's state (the breaker) and the loop that probes the
database and drains the spool into it.

The intake talks to it through three names: `takes_writes` (may a delivery go to the database
now?), `write_failed` (one could not, for want of the database) and `spooled` (one waits in the
spool). Readers (the monitor, the status page, the verifier) ask `seen_up`, `problem` and
`apply_problem`. The loop sleeps until there is something to do: a delivery was spooled, or a
write found the database gone. While the database is away it probes with backoff; once it is
back, the drainer writes the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from service.background import stop_task
from service.db.engine import DatabaseTarget
from service.db.errors import DatabaseProblem
from service.db.store import DeliveryStore
from service.domain.database_state import DatabaseState, StateClock
from service.outbox.spool import Spool, SpoolError
from service.recovery.breaker import Breaker
from service.recovery.drainer import Drainer, DrainResult

log = logging.getLogger(__name__)

PROBE_FIRST_DELAY = 0.2  # seconds; doubled after each failed probe
PROBE_MAX_DELAY = 5.0
RETRY_DELAY = 5.0  # seconds before a delivery whose write failed while the database was up


class Recovery:
    def __init__(
        self,
        target: DatabaseTarget,
        spool: Spool,
        store: DeliveryStore,
        reset_pool: Callable[[], Awaitable[None]],
        *,
        schema_auto_apply: bool,
        probe_max_delay: float = PROBE_MAX_DELAY,
    ) -> None:
        self._breaker = Breaker(target, spool, schema_auto_apply=schema_auto_apply)
        self._drainer = Drainer(store, spool, outage=self._outage, written=self._written)
        self._spool = spool
        self._reset_pool = reset_pool
        self._probe_max_delay = probe_max_delay
        self._wake = asyncio.Event()  # something to probe or to drain
        self._pool_stale = False  # the pooled connections may be silent or dead: start afresh
        self._answered = asyncio.Event()  # the first probe has answered
        self._task: asyncio.Task[None] | None = None
        self._clock = StateClock(_now())

    # -- the intake's three ---------------------------------------------------------------------

    @property
    def takes_writes(self) -> bool:
        """May a delivery go to the database now (not while a failed write awaits the probe)?"""
        return self._breaker.takes_writes

    def write_failed(self, problem: DatabaseProblem) -> None:
        """A write failed for want of the database: probe now, on fresh connections."""
        if self._breaker.takes_writes:
            self._pool_stale = True  # its connections may be silent or dead
        self._breaker.write_failed(problem)
        self._note()
        self._wake.set()

    def spooled(self) -> None:
        """A delivery went to the spool: drain now, unless the database is known away."""
        if self._breaker.database_up:
            self._wake.set()

    # -- what readers ask -----------------------------------------------------------------------

    @property
    def database_up(self) -> bool:
        """Whether deliveries go to the database now (not while a failed write waits for the
        probe's word)."""
        return self._breaker.takes_writes

    @property
    def seen_up(self) -> bool | None:
        """The database's state as last probed or written; None until the first probe answers."""
        return self._breaker.database_up if self._answered.is_set() else None

    def state(self) -> DatabaseState:
        """The database's state and since when it holds (what the status page shows)."""
        return self._note()

    def _note(self) -> DatabaseState:
        """Record a change of state at the moment it is seen (called after each step that may
        change it; reading it again changes nothing)."""
        return self._clock.observe(self.seen_up, _now())

    @property
    def problem(self) -> DatabaseProblem | None:
        """Why the database is away, as last seen."""
        return self._breaker.problem

    @property
    def cause(self) -> DatabaseProblem | None:
        """Why deliveries cannot be written now (docs/contract.md §8: its `code`); None while
        they can."""
        return self._breaker.cause

    @property
    def role(self) -> str:
        """The service's role in the database, and the schema its objects go to (as the last
        check read them): what the GRANTs of a `privileges` cause name."""
        return self._breaker.role

    @property
    def schema(self) -> str:
        return self._breaker.schema

    @property
    def apply_problem(self) -> DatabaseProblem | None:
        """Why the schema could not be applied, as last tried."""
        return self._breaker.apply_problem

    # -- once, on demand ------------------------------------------------------------------------

    async def probe(self) -> bool:
        """Is the database there with its schema (applied if allowed and missing)?"""
        try:
            return await self._breaker.probe()
        finally:
            self._note()

    async def drain_once(self) -> DrainResult:
        """Probe, then drain if the database is there (`python -m service spool drain`)."""
        if not await self._breaker.probe():
            return DrainResult(0, await asyncio.to_thread(self._spool.pending))
        return await self._drainer.drain()

    # -- the background task --------------------------------------------------------------------

    def start(self) -> None:
        """The first probe (applying a missing schema when allowed), then the loop."""
        self._task = asyncio.create_task(self._run(), name="recovery")

    async def first_probe(self, seconds: float) -> bool:
        """Wait for the first probe's answer, `seconds` at most; whether it came."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered.wait(), seconds)
        return self._answered.is_set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task, "the recovery loop")

    async def _outage(self, problem: DatabaseProblem) -> bool:
        """The drainer met an outage: True while the database still takes writes."""
        self.write_failed(problem)
        try:
            return await self._breaker.decide()
        finally:
            self._note()

    def _written(self) -> None:
        available = self._breaker.available()
        self._breaker.confirmed_up(f"{available}; writing the spooled deliveries")
        self._note()

    async def _run(self) -> None:
        breaker = self._breaker
        try:
            await breaker.probe()
        except Exception:  # the loop probes again; the service must start regardless
            log.exception("first database probe failed; trying again")
        self._answered.set()
        self._note()
        delay = min(PROBE_FIRST_DELAY, self._probe_max_delay)
        while True:
            self._wake.clear()
            try:
                if self._pool_stale:
                    self._pool_stale = False
                    await self._reset_pool()
                if breaker.suspected:
                    await breaker.decide()
                elif not breaker.database_up:
                    await breaker.probe()
                self._note()
                left = (await self._drainer.drain()).left if breaker.database_up else 1
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
                self._wake.clear()  # a failure seen during this round is no reason to hurry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


def _now() -> datetime:
    return datetime.now(UTC)
