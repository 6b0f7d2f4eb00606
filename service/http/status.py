"""`GET /status` (one HTML page, server-rendered, French) and `GET /api/status` (the same facts as
JSON): what an operator needs to see that pointage works (CONTRACT §6). Operators' paths: the
router that holds them carries the operators' guard (service/http/operators.py).

The facts come from the database (service/db/status_queries.py) and the spool, so they survive a
restart; the counters kept in memory (answers today, signature failures) say since when. While
the circuit breaker sees the database away, the database is not asked (the page stays fast) and
its facts are shown as unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.response import Template

from service.alerts.monitor import AlertMonitor
from service.db.errors import classify
from service.db.status_queries import DatabaseFacts, read_status
from service.domain.alerts import duration_fr
from service.http import paths
from service.http.status_chart import Chart, chart, plural
from service.runtime import Runtime

log = logging.getLogger(__name__)

# The page needs no script and nothing from another host; the browser is told so, and enforces
# it (a name that slipped past the escaping still could not run).
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

REASONS_FR = {
    "entree_repetee": "entrée répétée",
    "sortie_sans_poste": "sortie sans poste",
    "poste_trop_long": "poste de plus de 24 h",
}
KINDS_FR = {
    "entree": "entrée",
    "sortie": "sortie",
    "debut_pause": "début de pause",
    "fin_pause": "fin de pause",
    "inconnu": "inconnu",
}
ANSWERS_FR = {
    "stored": "enregistrées",
    "duplicate": "doublons",
    "ignored": "ignorées (autres événements)",
    "applied": "corrections appliquées",
    "queued": "mises en attente (spool)",
    "error": "refusées",
    "client_disconnected": "interrompues par l'expéditeur",
}


# -- the facts, as /api/status answers them ------------------------------------------------------


class DatabaseStatus(msgspec.Struct):
    state: str  # "up", "down", "unknown"
    since: datetime
    since_start: bool  # the state has held since the service started (the since is the start)
    label: str  # user@host:port/database, never a password
    last_error: str | None  # the spool's last write error
    read_error: str | None  # why the page's own reads failed, if they did


class SpoolStatusFacts(msgspec.Struct):
    pending: int
    oldest: datetime | None
    oldest_pending_s: float | None
    stranded: int
    quarantined: int


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
    employees: list[EmployeeAnomalyFacts]


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
    generated_at: datetime
    started_at: datetime
    database: DatabaseStatus
    spool: SpoolStatusFacts | None
    last_delivery: DeliveryFacts | None
    locations: list[LocationFacts]
    deliveries_per_hour: list[HourCount]
    answers_today: Counted
    signature_failures: SignatureFailures
    unmapped_users: list[UnmappedUser]
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


async def gather(runtime: Runtime) -> tuple[StatusAnswer, Chart]:
    monitor: AlertMonitor = runtime.monitor
    settings = runtime.settings
    zone = monitor.zone
    await monitor.check()  # the freshest database state, spool facts and alerts
    now = monitor.clock()
    spool = monitor.spool_facts
    database = monitor.database
    facts: DatabaseFacts | None = None
    read_error: str | None = None
    if database.up is False:
        read_error = "base indisponible: ses données ne sont pas lues"
    else:
        first, _ = month_of(now, zone)
        try:
            async with asyncio.timeout(settings.connect_timeout):
                facts = await read_status(runtime.engine, now, first)
        except Exception as exc:  # noqa: BLE001 - the page shows what it can, and why not the rest
            problem = classify(exc)
            read_error = problem.sentence
            log.warning("status page: the database's facts were not read: %s", problem)
    last_error = None
    try:
        last_error = (await asyncio.to_thread(runtime.spool.status)).last_error
    except Exception:  # noqa: BLE001 - spool problems are the spool facts' to show
        last_error = None
    per_hour = facts.hourly if facts else {}
    drawn = chart(per_hour, now, zone, monitor.thresholds.working_hours.is_working)
    month, _ = month_of(now, zone)
    answer = StatusAnswer(
        generated_at=now,
        started_at=monitor.started_at,
        database=DatabaseStatus(
            state={True: "up", False: "down", None: "unknown"}[database.up],
            since=database.since,
            since_start=database.since_start,
            label=runtime.target.label,
            last_error=last_error,
            read_error=read_error,
        ),
        spool=SpoolStatusFacts(
            pending=spool.pending,
            oldest=spool.oldest,
            oldest_pending_s=(now - spool.oldest).total_seconds() if spool.oldest else None,
            stranded=spool.stranded,
            quarantined=spool.quarantined,
        )
        if spool
        else None,
        last_delivery=_delivery(facts, monitor),
        locations=[
            LocationFacts(x.location, x.received_at, x.user_id, x.name, x.kind)
            for x in (facts.per_location if facts else [])
        ],
        deliveries_per_hour=[HourCount(bar.hour, bar.count) for bar in drawn.bars],
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
            for u in (facts.unmapped if facts else [])
        ],
        anomalies=MonthAnomalies(
            month=f"{month:%Y-%m}",
            employees=[
                EmployeeAnomalyFacts(
                    a.user_id, a.equipe_id, a.name, a.anomalies, a.punches, a.reasons
                )
                for a in (facts.anomalies if facts else [])
            ],
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
    return answer, drawn


def _delivery(facts: DatabaseFacts | None, monitor: AlertMonitor) -> DeliveryFacts | None:
    if facts is not None and facts.last_delivery is not None:
        d = facts.last_delivery
        return DeliveryFacts(
            d.received_at, d.user_id, d.name, d.employee_number, d.location, d.kind
        )
    return None


# -- the page -------------------------------------------------------------------------------------


class French:
    """Formatting helpers for the template: instants in the workshop's zone, French words."""

    def __init__(self, zone: ZoneInfo, now: datetime) -> None:
        self.zone = zone
        self.now = now

    def when(self, instant: datetime | None) -> str:
        if instant is None:
            return "—"
        local = instant.astimezone(self.zone)
        if local.date() == self.now.astimezone(self.zone).date():
            return f"aujourd'hui à {local:%H:%M}"
        if local.date() == (self.now.astimezone(self.zone) - timedelta(days=1)).date():
            return f"hier à {local:%H:%M}"
        return f"le {local:%d/%m/%Y à %H:%M}"

    def ago(self, instant: datetime | None) -> str:
        if instant is None:
            return ""
        return f"il y a {duration_fr(self.now - instant)}"

    def day(self, instant: datetime | None) -> str:
        return "—" if instant is None else f"{instant.astimezone(self.zone):%d/%m/%Y %H:%M}"

    @staticmethod
    def duration(seconds: float | None) -> str:
        return "—" if seconds is None else duration_fr(seconds)

    @staticmethod
    def kind(value: str) -> str:
        return KINDS_FR.get(value, value)

    @staticmethod
    def answer(value: str) -> str:
        return ANSWERS_FR.get(value, value)

    @staticmethod
    def reason(value: str) -> str:
        return REASONS_FR.get(value, value)

    @staticmethod
    def plural(count: int, word: str) -> str:
        return plural(count, word)

    @staticmethod
    def month(value: str) -> str:
        year, month = value.split("-")
        names = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ]
        return f"{names[int(month) - 1]} {year}"


class OperatorsError(msgspec.Struct):
    status: str
    reason: str


# The operators' guard answers these before the handler runs (service/http/operators.py).
GUARD_ANSWERS = {
    401: "No credentials, or wrong ones (`WWW-Authenticate: Basic`): sign in as admin.",
    404: "ADMIN_PASSWORD is not set: the operators' paths are off.",
    429: "Too many failed sign-ins from this address: wait `Retry-After` seconds.",
}
GUARD_RESPONSES = {
    status: ResponseSpec(data_container=OperatorsError, description=description)
    for status, description in GUARD_ANSWERS.items()
}


@get(
    paths.STATUS,
    summary="Operators' status page (HTML, French)",
    responses=GUARD_RESPONSES,
)
async def status_page(runtime: NamedDependency[Runtime]) -> Template:
    """The status page: database, spool, deliveries, answers, unmapped users, anomalies, alerts."""
    started = time.perf_counter()
    answer, drawn = await gather(runtime)
    context: dict[str, Any] = {
        "s": answer,
        "chart": drawn,
        "fr": French(runtime.monitor.zone, answer.generated_at),
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return Template(
        template_name="status.html.j2",
        context=context,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY},
        media_type="text/html; charset=utf-8",
    )


@get(paths.API_STATUS, summary="Operators' status facts (JSON)", responses=GUARD_RESPONSES)
async def status_json(runtime: NamedDependency[Runtime]) -> Response[StatusAnswer]:
    """The facts of /status as JSON (CONTRACT §6)."""
    answer, _ = await gather(runtime)
    return Response(answer, headers={"Cache-Control": "no-store"})
