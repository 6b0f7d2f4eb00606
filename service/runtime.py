"""The running service's parts, wired in one place; the CLI builds the same ones.

settings → database target → engine and store; the spool, the breaker and the drainer around
them; the intake in front. Nothing else constructs these.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.db.engine import DatabaseTarget, create_engine, resolve_database_url, session_factory
from service.db.store import DeliveryStore
from service.intake import Intake
from service.outbox.breaker import Breaker
from service.outbox.drainer import Drainer
from service.outbox.spool import Spool, Stranded
from service.settings import Settings

log = logging.getLogger(__name__)


def open_spool(settings: Settings, target: DatabaseTarget) -> Spool:
    """The spool of SPOOL_DIR, seen from `target`, with the quarantine's bounds."""
    return Spool(
        settings.spool_dir,
        target.key,
        target.label,
        quarantine_max_count=settings.quarantine_max_count,
        quarantine_max_bytes=settings.quarantine_max_bytes,
    )


def stranded_warning(other: Stranded, here: str) -> str:
    """The start-up line about deliveries spooled for another database (never a password)."""
    since = f", the oldest from {other.oldest.isoformat()}" if other.oldest else ""
    return (
        f"spool: {other.pending} deliveries are stranded: they were spooled for database "
        f"{other.database_label}{since}, and DATABASE_URL now names {here}. A spool only drains "
        "into the database it was written for, so they stay there. If that database was a "
        "mistake (a corrected DATABASE_URL), `python -m service spool retarget` lists them and "
        "`python -m service spool retarget --yes` writes them here; otherwise point "
        "DATABASE_URL back to it until they drain."
    )


@dataclass(slots=True)
class Runtime:
    settings: Settings
    target: DatabaseTarget
    engine: AsyncEngine
    spool: Spool
    breaker: Breaker
    drainer: Drainer
    intake: Intake

    @classmethod
    async def open(cls, settings: Settings, *, schema_auto_apply: bool | None = None) -> Runtime:
        """Every part, connected to nothing yet (no probe, no background task)."""
        # Starting the embedded server blocks for about a second: keep it off the event loop.
        url = await asyncio.to_thread(resolve_database_url, settings)
        target = DatabaseTarget.from_url(url, settings)
        engine = create_engine(target, settings.pool_timeout)
        store = DeliveryStore(session_factory(engine))
        # spool: deliveries the database cannot take now wait here (CONTRACT §1, §5).
        spool = await asyncio.to_thread(open_spool, settings, target)
        auto_apply = settings.schema_auto_apply if schema_auto_apply is None else schema_auto_apply
        breaker = Breaker(target, spool, schema_auto_apply=auto_apply)

        async def reset_pool() -> None:
            await engine.dispose(close=False)  # closing a silent connection could hang

        drainer = Drainer(
            store, spool, breaker, reset_pool, probe_max_delay=settings.probe_max_delay
        )
        # TimeMoto waits for its answer at most DB_CONNECT_TIMEOUT: then the spool has it.
        intake = Intake(
            settings.webhook_secrets, store, spool, breaker, patience=settings.connect_timeout
        )
        return cls(settings, target, engine, spool, breaker, drainer, intake)

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open, probe (applying a missing schema when allowed), and start the drainer."""
        runtime = await cls.open(settings)
        log.info("database: %s; spool: %s", runtime.target.label, runtime.spool.path)
        for other in await asyncio.to_thread(runtime.spool.stranded):
            log.warning("%s", stranded_warning(other, runtime.target.label))
        await runtime.breaker.probe()
        runtime.drainer.start()
        return runtime

    @property
    def database_up(self) -> bool:
        """What the circuit breaker believes now."""
        return self.breaker.database_up

    async def stop(self) -> None:
        await self.drainer.stop()
        await asyncio.to_thread(self.spool.close)
        try:  # a silent database must not hold the shutdown
            await asyncio.wait_for(self.engine.dispose(), self.settings.connect_timeout)
        except TimeoutError:
            log.warning("database connections not closed cleanly: the database did not answer")
