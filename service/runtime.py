"""What the running service holds: its settings, its database and the parts built on them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.db.engine import DatabaseTarget, create_engine, resolve_database_url, session_factory
from service.db.store import DeliveryStore
from service.intake import Reception
from service.outbox.recovery import Recovery
from service.outbox.spool import Spool
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    target: DatabaseTarget
    engine: AsyncEngine
    reception: Reception
    spool: Spool
    recovery: Recovery

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        # Starting the embedded server blocks for about a second: keep it off the event loop.
        url = await asyncio.to_thread(resolve_database_url, settings)
        target = DatabaseTarget.from_url(url, settings)
        engine = create_engine(target, settings.pool_timeout)
        store = DeliveryStore(
            session_factory(engine),
            timeout=settings.connect_timeout + settings.statement_timeout,
        )
        # spool: deliveries the database cannot take now wait here (CONTRACT §1, §5).
        spool = await asyncio.to_thread(Spool, settings.spool_dir, target.key, target.label)

        async def reset_pool() -> None:
            await engine.dispose(close=False)  # closing a silent connection could hang

        recovery = Recovery(
            target,
            store,
            spool,
            write_timeout=settings.connect_timeout + settings.statement_timeout,
            schema_auto_apply=settings.schema_auto_apply,
            reset_pool=reset_pool,
        )
        reception = Reception(
            settings.webhook_secrets,
            store,
            spool,
            recovery,
            write_timeout=settings.connect_timeout,
        )
        runtime = cls(settings, target, engine, reception, spool, recovery)
        log.info("database: %s; spool: %s", target.label, spool.path)
        await recovery.probe()  # applies the schema when it is missing and SCHEMA_AUTO_APPLY is on
        recovery.start()
        return runtime

    @property
    def database_up(self) -> bool:
        """What the circuit breaker believes now."""
        return self.recovery.database_up

    async def stop(self) -> None:
        await self.recovery.stop()
        await asyncio.to_thread(self.spool.close)
        try:  # a silent database must not hold the shutdown
            await asyncio.wait_for(self.engine.dispose(), self.settings.connect_timeout)
        except TimeoutError:
            log.warning("database connections not closed cleanly: the database did not answer")
