"""The operators' status facts (docs/contract.md §6): what `GET /status` shows and
`GET /api/status` answers, gathered without changing anything (alerts are the monitor's own loop's
to evaluate; the page shows those it has raised).

The facts come from the database (db/status_queries.py) and the spool, so they survive a
restart; the counters kept in memory (answers today, signature failures) say since when. While
the database is known to be away, it is not asked (the page stays fast) and its facts are shown
as unavailable.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from service.alerts.monitor import AlertMonitor
from service.db.errors import DatabaseProblem, classify
from service.db.status_queries import DatabaseFacts, read_status
from service.domain.alerts import duration_fr
from service.domain.database_state import DatabaseState
from service.domain.headline import Headline, HeadlineFacts, headline
from service.outbox.spool import Spool, SpoolError, SpoolStatus
from service.recovery.recovery import Recovery
from service.settings import Settings

log = logging.getLogger(__name__)

HOURS = 48  # the deliveries-per-hour series


class DatabaseStatus(msgspec.Struct):
    state: str  # "up", "down", "unknown"
    since: datetime
    since_start: bool  # the state has held since the service started (the since is the start)
    label: str  # user@host:port/database, never a password
    cause: str | None  # why it takes no deliveries now (docs/contract.md §8); None while it does
    error: str | None  # that cause in words
    last_error: str | None  # the spool's last write error
    read_error: str | None  # why the page's own reads failed, if they did


class SpoolStatusFacts(msgspec.Struct):
    pending: int
    oldest: datetime | None
    oldest_pending_s: float | None
    stranded: int
    quarantined: int
    quarantined_24h: int  # went to the quarantine in the last 24 hours


class StatusHeadline(msgspec.Struct):
    """The page's headline (domain/headline.py): green only when all is well."""

    level: str  # "ok" (green), "warn" (orange), "bad" (red: an alert is raised)
    title: str
    lines: list[str]
    actions: list[str]


class DeliveryFacts(msgspec.Struct):
    received_at: datetime
    user_id: str | None
    name: str
    employee_number: str | None
    location: str | None
    kind: str


class LocationFacts(msgspec.Struct):
    location: str
    received_at: datetime
    user_id: str
    name: str
    kind: str


class HourCount(msgspec.Struct):
    hour: datetime
    count: int


class Counted(msgspec.Struct):
    since: datetime
    counts: dict[str, int]


class SignatureFailures(msgspec.Struct):
    since: datetime
    last_24h: int


class UnmappedUser(msgspec.Struct):
    user_id: str
    name: str
    employee_number: str | None
    first_punch: datetime
    last_punch: datetime
    punches: int
    mapping_sql: str


class EmployeeAnomalyFacts(msgspec.Struct):
    user_id: str
    equipe_id: int | None
    name: str
    anomalies: int
    punches: int
    reasons: dict[str, int]


class MonthAnomalies(msgspec.Struct):
    month: str  # YYYY-MM
    employees: list[EmployeeAnomalyFacts] | None  # null: not read


class AlertFacts(msgspec.Struct):
    name: str
    title: str
    since: datetime
    detail: str


class AlertSettings(msgspec.Struct):
    working_hours: str
    working_timezone: str
    silence_alert_after_s: float
    alert_after_s: float
    webhook: bool  # ALERT_WEBHOOK_URL is set (never the URL itself)


class StatusAnswer(msgspec.Struct):
    """What /status shows; a figure the service could not read is null (unknown), never 0."""

    generated_at: datetime
    started_at: datetime
    headline: StatusHeadline
    database: DatabaseStatus
    spool: SpoolStatusFacts | None  # null: the spool could not be read
    database_read: bool  # false: the database's facts below are unknown (null)
    last_delivery: DeliveryFacts | None
    locations: list[LocationFacts] | None
    deliveries_per_hour: list[HourCount]  # what the service answered, and the database holds
    answers_today: Counted
    signature_failures: SignatureFailures
    unmapped_users: list[UnmappedUser] | None
    anomalies: MonthAnomalies
    alerts: list[AlertFacts]
    alerting: AlertSettings


def month_of(now: datetime, zone: ZoneInfo) -> tuple[date, tuple[datetime, datetime]]:
    """The workshop's current month: its first day and its instants."""
    first = now.astimezone(zone).date().replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(following, datetime.min.time(), zone).astimezone(UTC)
    return first, (start, end)


def _per_hour(facts: DatabaseFacts | None, answered: dict[datetime, int]) -> dict[datetime, int]:
    """Deliveries per hour: what the service itself answered (queued ones too), and for hours
    before it started, what the database holds (its arrival times); the larger of the two."""
    stored = {hour.astimezone(UTC): n for hour, n in (facts.hourly if facts else {}).items()}
    return {hour: max(stored.get(hour, 0), answered.get(hour, 0)) for hour in {*stored, *answered}}


def hours_ending(now: datetime) -> list[datetime]:
    """The 48 hour starts (UTC) up to the current hour, oldest first."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


class StatusReport:
    """Gathers the status facts: the database's state (recovery), the spool, the monitor's
    counters and raised alerts, and what the database holds (read on the request's session)."""

    def __init__(
        self,
        settings: Settings,
        database_label: str,
        spool: Spool,
        recovery: Recovery,
        monitor: AlertMonitor,
    ) -> None:
        self._settings = settings
        self._label = database_label
        self._spool = spool
        self._recovery = recovery
        self.monitor = monitor

    @property
    def zone(self) -> ZoneInfo:
        return self.monitor.zone

    async def answer(self, session: AsyncSession) -> StatusAnswer:
        monitor, settings = self.monitor, self._settings
        now = monitor.clock()
        database = self._recovery.state()
        cause = self._recovery.cause
        spool = await self._read_spool()
        facts: DatabaseFacts | None = None
        read_error: str | None = None
        if database.up is False:
            read_error = "base indisponible\u00a0: ses données ne sont pas lues"
        else:
            first, _ = month_of(now, monitor.zone)
            try:
                async with asyncio.timeout(settings.connect_timeout):
                    facts = await read_status(session, now, first)
            except Exception as exc:  # noqa: BLE001 - the page shows what it can, and why not the rest
                problem = classify(exc)
                read_error = problem.sentence
                log.warning("status page: the database's facts were not read: %s", problem)
        hourly = _per_hour(facts, monitor.activity.acknowledged_per_hour())
        month, _ = month_of(now, monitor.zone)
        report = self._report(now, database, cause, spool)
        return StatusAnswer(
            generated_at=now,
            started_at=monitor.started_at,
            headline=StatusHeadline(report.level, report.title, report.lines, report.actions),
            database=DatabaseStatus(
                state={True: "up", False: "down", None: "unknown"}[database.up],
                since=database.since,
                since_start=database.since_start,
                label=self._label,
                cause=cause.code if cause else None,
                error=cause.sentence if cause else None,
                last_error=spool.last_error if spool else None,
                read_error=read_error,
            ),
            spool=SpoolStatusFacts(
                pending=spool.pending,
                oldest=spool.oldest,
                oldest_pending_s=(now - spool.oldest).total_seconds() if spool.oldest else None,
                stranded=spool.stranded_count,
                quarantined=spool.quarantined,
                quarantined_24h=spool.quarantined_24h,
            )
            if spool
            else None,
            database_read=facts is not None,
            last_delivery=_delivery(facts),
            locations=[
                LocationFacts(x.location, x.received_at, x.user_id, x.name, x.kind)
                for x in facts.per_location
            ]
            if facts
            else None,
            deliveries_per_hour=[HourCount(h, hourly.get(h, 0)) for h in hours_ending(now)],
            answers_today=Counted(
                since=monitor.activity.today_since(now), counts=monitor.activity.today(now)
            ),
            signature_failures=SignatureFailures(
                since=monitor.activity.signature_failures_since(now),
                last_24h=monitor.activity.signature_failures(now),
            ),
            unmapped_users=[
                UnmappedUser(
                    u.user_id,
                    u.name,
                    u.employee_number,
                    u.first_punch,
                    u.last_punch,
                    u.punches,
                    u.mapping_sql,
                )
                for u in facts.unmapped
            ]
            if facts
            else None,
            anomalies=MonthAnomalies(
                month=f"{month:%Y-%m}",
                employees=[
                    EmployeeAnomalyFacts(
                        a.user_id, a.equipe_id, a.name, a.anomalies, a.punches, a.reasons
                    )
                    for a in facts.anomalies
                ]
                if facts
                else None,
            ),
            alerts=[AlertFacts(a.name, a.title, a.since, a.detail) for a in monitor.active],
            alerting=AlertSettings(
                working_hours=monitor.thresholds.working_hours.text,
                working_timezone=settings.working_timezone,
                silence_alert_after_s=settings.silence_alert_after,
                alert_after_s=settings.alert_after,
                webhook=monitor.notifier.enabled,
            ),
        )

    def _report(
        self,
        now: datetime,
        database: DatabaseState,
        cause: DatabaseProblem | None,
        spool: SpoolStatus | None,
    ) -> Headline:
        """The headline for the facts `answer` read (each read once)."""
        since = ""
        if database.up is False:
            local = database.since.astimezone(self.monitor.zone)
            day = (
                ""
                if local.date() == now.astimezone(self.monitor.zone).date()
                else f"le {local:%d/%m} "
            )
            since = f"depuis {day}{local:%H:%M} (il y a {duration_fr(now - database.since)})"
        return headline(
            HeadlineFacts(
                database_up=database.up,
                database_since=database.since,
                cause=cause.code if cause else None,
                cause_detail=cause.sentence if cause else None,
                pending=spool.pending if spool else None,
                oldest_pending=spool.oldest if spool else None,
                stranded=spool.stranded_count if spool else None,
                quarantined_24h=spool.quarantined_24h if spool else None,
                alerts=tuple(alert.title for alert in self.monitor.active),
                role=self._recovery.role,
                schema=self._recovery.schema,
            ),
            now,
            since_text=since,
        )

    async def _read_spool(self) -> SpoolStatus | None:
        try:
            return await asyncio.to_thread(self._spool.status)
        except SpoolError as exc:  # the page says the spool could not be read
            log.error("%s", exc)
            return None


def _delivery(facts: DatabaseFacts | None) -> DeliveryFacts | None:
    if facts is not None and facts.last_delivery is not None:
        d = facts.last_delivery
        return DeliveryFacts(
            d.received_at, d.user_id, d.name, d.employee_number, d.location, d.kind
        )
    return None
