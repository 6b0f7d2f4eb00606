"""The composition root: every part of the running service, built once, here and nowhere else.

settings → the database (target, engine, sessions) → the store; the spool; the recovery (the
database's state, the probe, the drain) around them; the intake in front; the monitor, the
metrics and the read side (verification, status, payroll) beside. The application (app.py)
hands the parts to its handlers; the CLI (cli.py) builds the same ones, or just the database.

    http handlers ──> intake ──> store ──> PostgreSQL
         │              └──────> spool <── recovery (probe, drain) ──> store
         └──> operations (read side) ──> db reads, spool, recovery, monitor
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.alerts.monitor import AlertMonitor, thresholds_of
from service.alerts.notifier import Notifier
from service.db.engine import DatabaseTarget, create_engine, resolve_database_url, session_factory
from service.db.store import DeliveryStore
from service.http.metrics import Metrics
from service.intake import Intake
from service.operations.payroll import PayrollReader
from service.operations.status import StatusReport
from service.operations.verification import Verification
from service.outbox.spool import Spool, Stranded
from service.recovery.recovery import Recovery
from service.settings import Settings

log = logging.getLogger(__name__)

STARTUP_PROBE_WAIT = 1.0  # seconds the start-up waits for the first probe, at most


@dataclass(frozen=True, slots=True)
class DatabaseAccess:
    """The database the settings name: where it is, the engine and the sessions on it."""

    target: DatabaseTarget
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    async def open(cls, settings: Settings) -> DatabaseAccess:
        # Starting the embedded server blocks for about a second: keep it off the event loop.
        target = await asyncio.to_thread(database_target, settings)
        engine = create_engine(target, settings.pool_timeout)
        return cls(target, engine, session_factory(engine))

    async def close(self, seconds: float) -> None:
        try:  # a silent database must not hold the shutdown
            await asyncio.wait_for(self.engine.dispose(), seconds)
        except TimeoutError:
            log.warning("database connections not closed cleanly: the database did not answer")


def database_target(settings: Settings) -> DatabaseTarget:
    """DATABASE_URL's database, or the embedded one (started here when DATABASE_URL is unset)."""
    return DatabaseTarget.from_url(resolve_database_url(settings), settings)


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


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    database: DatabaseAccess
    spool: Spool
    recovery: Recovery
    intake: Intake
    monitor: AlertMonitor
    metrics: Metrics
    # the read side
    verification: Verification
    status: StatusReport
    payroll: PayrollReader

    @classmethod
    async def open(cls, settings: Settings, *, schema_auto_apply: bool | None = None) -> Runtime:
        """Every part, connected to nothing yet (no probe, no background task)."""
        database = await DatabaseAccess.open(settings)
        target = database.target
        store = DeliveryStore(database.sessions)
        # spool: deliveries the database cannot take now wait here (docs/contract.md §1, §5).
        spool = await asyncio.to_thread(open_spool, settings, target)
        auto_apply = settings.schema_auto_apply if schema_auto_apply is None else schema_auto_apply

        async def reset_pool() -> None:
            await database.engine.dispose(close=False)  # closing a silent connection could hang

        recovery = Recovery(
            target,
            spool,
            store,
            reset_pool,
            schema_auto_apply=auto_apply,
            probe_max_delay=settings.probe_max_delay,
        )
        # TimeMoto waits for its answer at most DB_CONNECT_TIMEOUT: then the spool has it.
        intake = Intake(
            settings.webhook_secrets, store, spool, recovery, patience=settings.connect_timeout
        )
        monitor = AlertMonitor(
            thresholds_of(settings),
            spool,
            lambda: recovery.seen_up,
            database.sessions,
            Notifier(settings.alert_webhook_url),
        )
        metrics = Metrics()
        metrics.watch(spool, recovery, monitor)
        return cls(
            settings=settings,
            database=database,
            spool=spool,
            recovery=recovery,
            intake=intake,
            monitor=monitor,
            metrics=metrics,
            verification=Verification(target, spool, recovery),
            status=StatusReport(settings, target.label, spool, recovery, monitor),
            payroll=PayrollReader(ZoneInfo(settings.working_timezone)),
        )

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Open, then in the background: probe (applying a missing schema when allowed), drain,
        watch for alerts. Nothing here waits for the database: the service serves (and spools)
        at once, however long the database takes to answer."""
        runtime = await cls.open(settings)
        log.info(
            "timemoto-pointage %s: database: %s; spool: %s",
            _version(),
            runtime.database.target.label,
            runtime.spool.path,
        )
        for other in await asyncio.to_thread(runtime.spool.stranded):
            log.warning("%s", stranded_warning(other, runtime.database.target.label))
        runtime.recovery.start()
        runtime.monitor.start(seed_timeout=settings.connect_timeout)
        # A database that answers is known (and its schema applied) before the first delivery
        # is taken; one that does not is given STARTUP_PROBE_WAIT, then the service serves and
        # spools. Meanwhile the supervisor's socket queues connections: none is refused.
        if not await runtime.recovery.first_probe(STARTUP_PROBE_WAIT):
            log.info(
                "database %s has not answered yet: serving now, deliveries are spooled until it "
                "does",
                runtime.database.target.label,
            )
        return runtime

    @property
    def database_up(self) -> bool:
        """Whether deliveries go to the database now, as the recovery sees it (not while a
        failed write waits for the probe's word)."""
        return self.recovery.database_up

    async def stop(self) -> None:
        await self.recovery.stop()
        await self.monitor.stop()
        await asyncio.to_thread(self.spool.close)
        await self.database.close(self.settings.connect_timeout)


def _version() -> str:
    """The installed package's version (from pyproject.toml)."""
    try:
        return version("timemoto-pointage")
    except PackageNotFoundError:
        return "(not installed)"
