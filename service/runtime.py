"""The running service's parts, wired in one place; the CLI builds the same ones.

settings → database target → engine and store; the spool, the breaker and the drainer around
them; the intake in front. Nothing else constructs these.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from service.alerts.monitor import AlertMonitor, thresholds_of
from service.alerts.notifier import Notifier
from service.db.engine import DatabaseTarget, create_engine, resolve_database_url, session_factory
from service.db.store import DeliveryStore
from service.intake import Intake
from service.outbox.breaker import Breaker
from service.outbox.drainer import Drainer
from service.outbox.spool import Spool, Stranded
from service.settings import Settings

log = logging.getLogger(__name__)

STARTUP_PROBE_WAIT = 1.0  # seconds the start-up waits for the first probe, at most


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
    monitor: AlertMonitor
    probed: bool = False  # the first probe of the database has answered
    _first_probe: asyncio.Task[None] | None = field(default=None, repr=False)

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
        holder: list[Runtime] = []  # the monitor asks the runtime whether the probe has answered

        def database_up() -> bool | None:
            return breaker.database_up if holder and holder[0].probed else None

        monitor = AlertMonitor(
            thresholds_of(settings),
            spool,
            database_up,
            engine,
            Notifier(settings.alert_webhook_url),
        )
        runtime = cls(settings, target, engine, spool, breaker, drainer, intake, monitor)
        holder.append(runtime)
        return runtime

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open, then in the background: probe (applying a missing schema when allowed), start
        the drainer, watch for alerts. Nothing here waits for the database: the service serves
        (and spools) at once, however long the database takes to answer."""
        runtime = await cls.open(settings)
        log.info("database: %s; spool: %s", runtime.target.label, runtime.spool.path)
        for other in await asyncio.to_thread(runtime.spool.stranded):
            log.warning("%s", stranded_warning(other, runtime.target.label))
        runtime._first_probe = asyncio.create_task(runtime._probe_then_drain(), name="first-probe")
        runtime.monitor.start(seed_timeout=settings.connect_timeout)
        # A database that answers is known (and its schema applied) before the first delivery
        # is taken; one that does not is given STARTUP_PROBE_WAIT, then the service serves and
        # spools. Meanwhile the supervisor's socket queues connections: none is refused.
        done, _ = await asyncio.wait({runtime._first_probe}, timeout=STARTUP_PROBE_WAIT)
        if not done:
            log.info(
                "database %s has not answered yet: serving now, deliveries are spooled until it "
                "does",
                runtime.target.label,
            )
        return runtime

    async def _probe_then_drain(self) -> None:
        try:
            await self.breaker.probe()
        except Exception:  # the drainer probes again; the service must start regardless
            log.exception("first database probe failed; the drainer tries again")
        self.probed = True
        self.drainer.start()

    @property
    def database_up(self) -> bool:
        """Whether deliveries go to the database now, as the circuit breaker sees it (not while
        a failed write waits for the probe's word)."""
        return self.breaker.takes_writes

    async def stop(self) -> None:
        if self._first_probe is not None and not self._first_probe.done():
            self._first_probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._first_probe
        await self.monitor.stop()
        await self.drainer.stop()
        await asyncio.to_thread(self.spool.close)
        try:  # a silent database must not hold the shutdown
            await asyncio.wait_for(self.engine.dispose(), self.settings.connect_timeout)
        except TimeoutError:
            log.warning("database connections not closed cleanly: the database did not answer")
