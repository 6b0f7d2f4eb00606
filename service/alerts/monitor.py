"""The alert monitor: a background task that gathers the facts every few seconds, asks the
`AlertBook` (service/domain/alerts.py) what changed, and says so once: a WARNING log line when an
alert is raised (INFO when cleared), the `timemoto_alert{name}` series, a line on `/status`, and a
notification when ALERT_WEBHOOK_URL is set.

The facts: the deliveries answered (`record`, called for each one; kept in `Activity`), the
latest delivery the database holds (read once at start, so a restart does not forget a long
silence), the circuit breaker's view of the database (and since when it holds), and the spool.
The clock is injected so that tests drive time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.alerts.notifier import Notifier
from service.background import stop_task
from service.db.status_queries import last_received
from service.domain.activity import Activity
from service.domain.alerts import Active, AlertBook, Change, Facts, Thresholds
from service.domain.database_state import DatabaseState, StateClock
from service.domain.working_hours import WorkingHours
from service.outbox.spool import Spool, SpoolError, SpoolStatus
from service.settings import Settings

log = logging.getLogger(__name__)

INTERVAL = 15.0  # seconds between two looks when nothing happens
# A delivery answered wakes the loop (a burst of forged signatures is raised at once, not up to
# INTERVAL later), but it looks at most once per MIN_GAP seconds however many arrive.
MIN_GAP = 1.0
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SpoolFacts:
    pending: int
    oldest: datetime | None
    stranded: int
    quarantined: int

    @classmethod
    def of(cls, status: SpoolStatus) -> SpoolFacts:
        return cls(
            pending=status.pending,
            oldest=status.oldest,
            stranded=sum(other.pending for other in status.stranded),
            quarantined=status.quarantined,
        )


def thresholds_of(settings: Settings) -> Thresholds:
    return Thresholds(
        working_hours=WorkingHours.parse(settings.working_hours, settings.working_timezone),
        silence_after=timedelta(seconds=settings.silence_alert_after),
        alert_after=timedelta(seconds=settings.alert_after),
    )


class AlertMonitor:
    def __init__(
        self,
        thresholds: Thresholds,
        spool: Spool,
        database_up: Callable[[], bool | None],
        sessions: async_sessionmaker[AsyncSession] | None,
        notifier: Notifier,
        clock: Clock = utc_now,
        interval: float = INTERVAL,
    ) -> None:
        self.thresholds = thresholds
        self.zone: ZoneInfo = thresholds.working_hours.zone
        self._spool = spool
        self._database_up = database_up
        self._sessions = sessions
        self.notifier = notifier
        self.clock = clock
        self.interval = interval
        self.started_at = clock()
        self.activity = Activity(self.zone, self.started_at)
        self.book = AlertBook(thresholds)
        self.last_in_database: datetime | None = None
        self._database = StateClock(self.started_at)
        self.spool_facts: SpoolFacts | None = None
        self.listeners: list[Callable[[Change], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # a delivery was answered: look soon
        self._looking = asyncio.Lock()
        self._seeded = False

    # -- facts ------------------------------------------------------------------------------------

    def record(self, answer: str, http_status: int) -> None:
        """One delivery answered (the webhook calls this for each)."""
        self.activity.record(answer, http_status, self.clock())
        self._wake.set()

    @property
    def last_delivery(self) -> datetime | None:
        known = [t for t in (self.activity.last_acknowledged, self.last_in_database) if t]
        return max(known) if known else None

    @property
    def database(self) -> DatabaseState:
        """The database's state as this monitor last looked (its own clock: its alerts')."""
        return self._database.state

    async def read_spool(self) -> SpoolFacts | None:
        try:
            status = await asyncio.to_thread(self._spool.status)
        except SpoolError as exc:
            log.error("%s", exc)
            return None
        self.spool_facts = SpoolFacts.of(status)
        return self.spool_facts

    async def seed(self, seconds: float) -> None:
        """The latest delivery the database holds (once; silence survives a restart)."""
        if self._seeded or self._sessions is None:
            return
        try:
            async with asyncio.timeout(seconds):
                async with self._sessions() as session:
                    self.last_in_database = await last_received(session)
            self._seeded = True
        except Exception as exc:  # noqa: BLE001 - the database may be away; try again later
            log.debug("last delivery not read from the database yet: %s", type(exc).__name__)

    # -- evaluation -------------------------------------------------------------------------------

    async def watch_from(self, clock: Clock) -> None:
        """From now on, time is `clock`'s, and watching starts at its present (scenarios and
        simulations drive time this way): the history is what happens from there, not the
        database's latest arrival (stamped with the real time). Between two looks: none sees
        half of the change."""
        async with self._looking:
            self._seeded, self.last_in_database = True, None
            self.clock = clock
            self.started_at = clock()
            self.activity.since = self.started_at
            self._database = StateClock(self.started_at)

    async def check(self) -> list[Change]:
        """Look once: evaluate the alerts now and report each change. One look at a time, each
        reading the clock when its turn comes: a look that began earlier never evaluates
        older facts after a later one (it would clear what the later one raised)."""
        async with self._looking:
            return await self._check()

    async def _check(self) -> list[Change]:
        now = self.clock()
        database = self._database.observe(self._database_up(), now)
        spool = await self.read_spool()
        facts = Facts(
            now=now,
            watching_since=self.started_at,
            last_delivery=self.last_delivery,
            database_up=database.up is not False,
            database_down_since=database.since if database.up is False else None,
            oldest_pending=spool.oldest if spool else None,
            stranded=spool.stranded if spool else 0,
            quarantined=spool.quarantined if spool else None,
            signature_failures=self.activity.signature_failures(
                now, self.thresholds.signature_window
            ),
        )
        changes = self.book.evaluate(facts)
        for change in changes:
            self._report(change)
        return changes

    def _report(self, change: Change) -> None:
        if change.raised:
            log.warning("alert raised: %s: %s", change.name, change.detail)
        else:
            log.info("alert cleared: %s: %s", change.name, change.detail)
        self.notifier.notify(change.text)
        for listener in self.listeners:
            listener(change)

    @property
    def active(self) -> list[Active]:
        return list(self.book.active.values())

    # -- the background task ----------------------------------------------------------------------

    def start(self, seed_timeout: float) -> None:
        self.notifier.start()
        self._task = asyncio.create_task(self._run(seed_timeout), name="alert-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task, "the alert monitor")
        await self.notifier.stop()

    async def _run(self, seed_timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            looked = loop.time()
            self._wake.clear()
            try:
                await self.seed(seed_timeout)
                await self.check()
            except Exception:  # the task must outlive any surprise
                log.exception("alert check failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            # Woken by a delivery: not before MIN_GAP since the last look (a rate, not a race).
            await asyncio.sleep(max(0.0, looked + MIN_GAP - loop.time()))
