"""What the running service holds: its settings, its database and the parts built on them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from service.database import DatabaseTarget, create_engine, resolve_database_url, session_factory
from service.deliveries import DeliveryStore
from service.reception import Reception
from service.schema import apply_schema, check_schema, describe_error
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    target: DatabaseTarget
    engine: AsyncEngine
    reception: Reception

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
        runtime = cls(settings, target, engine, Reception(settings.webhook_secrets, store))
        log.info("database: %s", target.label)
        if settings.schema_auto_apply:
            await runtime.apply_schema_if_missing()
        return runtime

    async def apply_schema_if_missing(self) -> None:
        report = await check_schema(self.target)
        if not report.database.reachable or not report.missing:
            return
        log.warning(
            "pointage schema incomplete (missing: %s): applying it", ", ".join(report.missing)
        )
        try:
            await apply_schema(self.target)
        except Exception as exc:  # noqa: BLE001 - reported, and the service keeps serving
            log.error("applying the pointage schema failed: %s", describe_error(exc))

    async def stop(self) -> None:
        await self.engine.dispose()
