"""`GET /status` (one HTML page, server-rendered, French) and `GET /api/status` (the same facts as
JSON): what an operator needs to see that pointage works (docs/contract.md §6). Operators' paths:
the router that holds them carries the operators' guard (service/http/operators.py). The facts
are the read side's (service/operations/status.py); this module renders them.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.alerts import duration_fr
from service.domain.headline import typographie
from service.http import paths
from service.http.status_chart import chart, plural
from service.operations.status import StatusAnswer, StatusReport

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
DAYS_FR = {
    "mon": "lun.",
    "tue": "mar.",
    "wed": "mer.",
    "thu": "jeu.",
    "fri": "ven.",
    "sat": "sam.",
    "sun": "dim.",
    "lun": "lun.",
    "mar": "mar.",
    "mer": "mer.",
    "jeu": "jeu.",
    "ven": "ven.",
    "sam": "sam.",
    "dim": "dim.",
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


# -- the page ---------------------------------------------------------------------------------


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

    def iso_day(self, instant: datetime | None) -> str:
        """The local date as `reconcile --from` takes it (today when unknown)."""
        return f"{(instant or self.now).astimezone(self.zone):%Y-%m-%d}"

    @staticmethod
    def typo(text: str) -> str:
        """French typography for a text made elsewhere (an alert's detail)."""
        return typographie(text)

    @staticmethod
    def hours(text: str) -> str:
        """WORKING_HOURS in French: `Mon-Sat 06:00-20:00` → « lun.–sam. 06:00–20:00 »."""
        text = re.sub(
            r"\b[a-z]{3}\b", lambda m: DAYS_FR.get(m[0].lower(), m[0]), text, flags=re.IGNORECASE
        )
        return re.sub(r"(?<=[.\d])\s*-\s*(?=[a-z\d])", "–", text)

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
# What each answers, word for word (service/http/operators.py): no generated placeholder text.
GUARD_EXAMPLES = {
    401: {"status": "error", "reason": "sign in as admin with ADMIN_PASSWORD"},
    404: {"status": "error", "reason": "Not Found"},
    429: {
        "status": "error",
        "reason": "too many failed sign-ins from this address: retry in 60 s",
    },
}
GUARD_RESPONSES = {
    status: ResponseSpec(
        data_container=OperatorsError,
        description=description,
        generate_examples=False,
        examples=[Example(id=str(status), value=GUARD_EXAMPLES[status])],
    )
    for status, description in GUARD_ANSWERS.items()
}


@get(
    paths.STATUS,
    summary="Operators' status page (HTML, French)",
    responses=GUARD_RESPONSES,
)
async def status_page(
    status: NamedDependency[StatusReport], db_session: NamedDependency[AsyncSession]
) -> Template:
    """The status page: database, spool, deliveries, answers, unmapped users, anomalies, alerts."""
    started = time.perf_counter()
    answer = await status.answer(db_session)
    per_hour = {bar.hour: bar.count for bar in answer.deliveries_per_hour}
    is_working = status.monitor.thresholds.working_hours.is_working
    context: dict[str, Any] = {
        "s": answer,
        "chart": chart(per_hour, answer.generated_at, status.zone, is_working),
        "fr": French(status.zone, answer.generated_at),
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return Template(
        template_name="status.html.j2",
        context=context,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": PAGE_POLICY},
        media_type="text/html; charset=utf-8",
    )


@get(paths.API_STATUS, summary="Operators' status facts (JSON)", responses=GUARD_RESPONSES)
async def status_json(
    status: NamedDependency[StatusReport], db_session: NamedDependency[AsyncSession]
) -> Response[StatusAnswer]:
    """The facts of /status as JSON (docs/contract.md §6)."""
    return Response(await status.answer(db_session), headers={"Cache-Control": "no-store"})
