"""While the database is away and when it comes back: the circuit breaker, its probe, the drainer.

Once a write fails for want of the database, the breaker opens (`database_up` is False) and
deliveries go straight to the spool without waiting for another timeout. A background task probes
the database with backoff (each probe bounded by the connect timeout), applies the schema when it
is missing and SCHEMA_AUTO_APPLY is on, closes the breaker when database and schema are both
there, and then writes the spooled deliveries in order of arrival. Each state change is logged
once, with what to do about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import sqlalchemy.exc

from service.db.engine import DatabaseTarget
from service.db.schema import apply_schema, check_schema, describe_error
from service.db.store import DeliveryStore
from service.domain.delivery import InvalidDelivery, NotJson, decode, parse_delivery
from service.outbox.spool import Spool, SpooledDelivery, SpoolError

log = logging.getLogger(__name__)

T = TypeVar("T")

PROBE_FIRST_DELAY = 0.2  # seconds; doubled after each failed probe
PROBE_MAX_DELAY = 5.0
RETRY_DELAY = 30.0  # a delivery the database refused for its own content is tried again after
MAX_ATTEMPTS = 5  # ... that many times, then it goes to the quarantine (never dropped)
BATCH = 100


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


def root_error(exc: BaseException) -> BaseException:
    """The driver's or the system's own error under SQLAlchemy's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen and not isinstance(exc, asyncpg.PostgresError):
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def is_outage(exc: BaseException) -> bool:
    """True unless the database refused this very delivery (data or integrity error)."""
    root = root_error(exc)
    if isinstance(root, asyncpg.PostgresError):
        return not (root.sqlstate or "").startswith(("22", "23"))
    return True


def explain(exc: BaseException) -> str:
    """One plain sentence about a failed write, never with a password or a URL."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return "no pooled database connection came free in time (DB_POOL_TIMEOUT)"
    return describe_error(root_error(exc))


@dataclass(frozen=True, slots=True)
class DrainResult:
    written: int
    left: int


@dataclass(frozen=True, slots=True)
class Requeued:
    released: int
    kept: list[tuple[str | None, str]]  # (event id, why it is still invalid)


def requeue_quarantine(spool: Spool) -> Requeued:
    """Validate each quarantined body again (the parser may have been fixed since): the valid
    ones go back to the spool, to be written like any other; the others stay, with the reason."""
    released, kept = 0, []
    for item in spool.quarantined_deliveries():
        try:
            delivery = parse_delivery(decode(item.body))
        except (NotJson, InvalidDelivery) as exc:
            kept.append((item.event_id, str(exc)))
            continue
        spool.release(item, delivery.event_id)
        released += 1
    return Requeued(released, kept)


class Recovery:
    def __init__(
        self,
        target: DatabaseTarget,
        store: DeliveryStore,
        spool: Spool,
        *,
        write_timeout: float,
        schema_auto_apply: bool,
        reset_pool: Callable[[], Awaitable[None]],
    ) -> None:
        self._target = target
        self._store = store
        self._spool = spool
        self._write_timeout = write_timeout
        self._schema_auto_apply = schema_auto_apply
        self._reset_pool = reset_pool
        self.database_up = True  # until a probe or a write says otherwise
        self._state = "unknown"
        self._pool_stale = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- the breaker ----------------------------------------------------------------------------

    def database_down(self, exc: BaseException) -> None:
        """A write failed for want of the database: open the breaker and start probing."""
        reason = explain(exc)
        if self.database_up:
            self._pool_stale = True  # its connections may be silent or dead: start afresh
        self._down(reason, self._advice(reason))
        self._wake.set()

    def spooled(self) -> None:
        """A delivery went to the spool: the drainer looks now if it was not probing already."""
        if self.database_up:
            self._wake.set()

    # Logged once per state change: a probe that succeeds while writes still fail for the same
    # reason (a dropped column, say) does not count as a change, so the log does not flap.
    def _down(self, reason: str, message: str) -> None:
        self.database_up = False
        if reason != self._state:
            self._state = reason
            log.error("%s", message)

    def _confirmed_up(self, message: str) -> None:
        self.database_up = True
        if self._state != "up":
            self._state = "up"
            log.info("%s", message)

    def _advice(self, reason: str) -> str:
        where = self._target.label
        if "tables are missing" in reason:
            todo = "apply the schema with `python -m service db apply`"
        elif "authentication" in reason or "does not exist" in reason:
            todo = "fix DATABASE_URL"
        else:
            todo = f"check network access from this host to {where} and that PostgreSQL is up"
        return (
            f"database {where} unavailable: {reason}. Deliveries are acknowledged (202 queued) "
            f"and kept in the spool {self._spool.path}; they are written to pointage "
            f"automatically once it is back. To do: {todo}."
        )

    async def probe(self) -> bool:
        """Is the database there with the whole schema (applying it if allowed)? Sets the state."""
        report = await check_schema(self._target)
        if report.database.reachable and report.missing and self._schema_auto_apply:
            await self._apply_schema(report.missing)
            report = await check_schema(self._target)
        if not report.database.reachable:
            reason = report.database.error or "unreachable"
            self._down(reason, self._advice(reason))
        elif report.missing:
            missing = ", ".join(report.missing)
            self._down(
                f"schema missing: {missing}",
                f"database {self._target.label} is reachable but the pointage schema is "
                f"incomplete (missing: {missing}). Deliveries are acknowledged (202 queued) and "
                f"kept in the spool {self._spool.path} until it is complete. To do: apply the "
                "schema with `python -m service db apply` (SCHEMA_AUTO_APPLY is off).",
            )
        else:
            self.database_up = True  # confirmed, and logged, by the first write (or an empty spool)
            if not await asyncio.to_thread(self._spool.pending):
                self._confirmed_up(self._available())
        return self.database_up

    async def _apply_schema(self, missing: list[str]) -> None:
        log.warning("pointage schema incomplete (missing: %s): applying it", ", ".join(missing))
        try:
            await apply_schema(self._target)
        except Exception as exc:  # noqa: BLE001 - reported; the probe then says what is missing
            log.error("applying the pointage schema failed: %s", describe_error(exc))

    def _available(self) -> str:
        return f"database {self._target.label} is available, pointage schema in place"

    # -- the drainer ----------------------------------------------------------------------------

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
                    self._confirmed_up(f"{self._available()}; writing the spooled deliveries")
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
            await bounded(self._store.record(delivery, item.received_at), self._write_timeout)
        except Exception as exc:  # noqa: BLE001 - every failure keeps the delivery spooled
            reason = explain(exc)
            await asyncio.to_thread(self._spool.failed, item.seq, reason)
            if is_outage(exc):
                self.database_down(exc)
                return True
            log.error("spooled delivery %s refused by the database: %s", item.event_id, reason)
            if item.attempts + 1 >= MAX_ATTEMPTS:
                await asyncio.to_thread(self._spool.move_to_quarantine, item, reason)
            return False
        await asyncio.to_thread(self._spool.remove, item.seq)  # only after the commit
        return None

    # -- the background task --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="spool-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = PROBE_FIRST_DELAY
        while True:
            self._wake.clear()
            try:
                if self._pool_stale:
                    self._pool_stale = False
                    await self._reset_pool()
                if not self.database_up:
                    await self.probe()
                left = (await self.drain()).left if self.database_up else 1
            except SpoolError as exc:
                log.error("%s", exc)
                left = 1
            except Exception:  # the task must outlive any surprise
                log.exception("spool recovery failed; trying again")
                left = 1
            if self._state == "up":
                delay = PROBE_FIRST_DELAY
            if self.database_up:
                timeout = RETRY_DELAY if left else None
            else:
                timeout, delay = delay, min(delay * 2, PROBE_MAX_DELAY)
                self._wake.clear()  # a failure seen during this round is no reason to hurry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
