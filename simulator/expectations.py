"""`expect` and `check`: what docs/contract.md §3 says the months add up to, and what the database
holds.

The expectation comes from the reference model `simulator.worktime_model.monthly_summaries`, fed the
punches the service itself would read (service.domain.delivery), each delivery id once. Both
layers are compared: the clockings' exact figures (`pointage_resume_mensuel`,
`equipe.minutes_travaillees_mois`) and what the ERP reads for its mapped employees
(`pointage_resume.total_heures`, its minutes / 60 to 2 decimals, and `total_jours_presents`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from service.domain.delivery import Punch, decode, parse_delivery
from simulator.harness import Database
from simulator.worktime_model import MonthSummary, monthly_summaries

FIELDS = ("minutes_travaillees", "jours_travailles", "nb_pointages", "nb_anomalies")


def summary_json(summary: MonthSummary) -> dict[str, Any]:
    return {"timemoto_user_id": summary.timemoto_user_id, "mois": summary.mois.isoformat()} | {
        name: getattr(summary, name) for name in FIELDS
    }


@dataclass(frozen=True, slots=True)
class Difference:
    timemoto_user_id: str
    mois: date | None  # None: equipe's figure, which has no month
    field: str
    expected: int | Decimal | None  # None: no such row
    actual: int | Decimal | None

    def line(self) -> str:
        where = self.mois.isoformat() if self.mois else "equipe"
        wanted = f"expected {self.expected}, got {self.actual}"
        return f"{self.timemoto_user_id}  {where}  {self.field}: {wanted}"


def punches(lines: Iterable[str | bytes]) -> list[Punch]:
    """The punches of a JSON-lines file of deliveries; a re-sent delivery (same id) counts once."""
    seen: set[str] = set()
    found = []
    for line in lines:
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        delivery = parse_delivery(decode(raw))
        if delivery.event_id in seen or delivery.punch is None:
            continue
        seen.add(delivery.event_id)
        found.append(delivery.punch)
    return found


def expected_totals(lines: Iterable[str | bytes]) -> list[MonthSummary]:
    return monthly_summaries(punches(lines))


@dataclass(frozen=True, slots=True)
class ErpMonth:
    """A row of the ERP's `pointage_resume` (one per employee and month)."""

    total_heures: Decimal
    total_jours_presents: int


def database_totals(database: Database) -> list[MonthSummary]:
    """`pointage_resume_mensuel` (our exact figures), every user and month."""
    rows = database.fetch(
        "SELECT timemoto_user_id, mois, minutes_travaillees, jours_travailles, nb_pointages,"
        " nb_anomalies FROM pointage_resume_mensuel ORDER BY timemoto_user_id, mois"
    )
    return [MonthSummary(**dict(row)) for row in rows]


def temps_travaille_mois(database: Database) -> dict[str, int]:
    """The latest month's worked time of every mapped TimeMoto user, in exact minutes
    (`equipe.minutes_travaillees_mois`; `temps_travaille_mois` holds it in hours for the ERP)."""
    rows = database.fetch(
        "SELECT timemoto_user_id, minutes_travaillees_mois FROM equipe"
        " WHERE timemoto_user_id IS NOT NULL"
    )
    return {row["timemoto_user_id"]: int(row["minutes_travaillees_mois"]) for row in rows}


def erp_totals(database: Database) -> dict[tuple[str, date], ErpMonth]:
    """The ERP's `pointage_resume`, by TimeMoto user and first day of the month."""
    rows = database.fetch(
        "SELECT e.timemoto_user_id, to_date(r.mois, 'YYYY-MM') AS mois, r.total_heures,"
        " r.total_jours_presents FROM pointage_resume r JOIN equipe e ON e.id = r.user_id"
        " WHERE e.timemoto_user_id IS NOT NULL"
    )
    return {
        (row["timemoto_user_id"], row["mois"]): ErpMonth(
            row["total_heures"], row["total_jours_presents"]
        )
        for row in rows
    }


def erp_hours(minutes: int) -> Decimal:
    """What the ERP's hours say of `minutes`: / 60, to 2 decimals (no tie can occur)."""
    return round(Decimal(minutes) / 60, 2)


def differences(
    expected: list[MonthSummary],
    actual: list[MonthSummary],
    equipe: dict[str, int] | None = None,
    erp: dict[tuple[str, date], ErpMonth] | None = None,
) -> list[Difference]:
    """Every field that differs, rows missing on either side, (given `equipe`) each mapped
    user's minutes of its latest expected month, and (given `erp` too) each mapped user's months
    in the ERP's `pointage_resume`: total_heures and total_jours_presents. Only the users of
    `expected` count: the database may hold others (the ERP's live data)."""
    users = {t.timemoto_user_id for t in expected}
    actual = [t for t in actual if t.timemoto_user_id in users]
    equipe = {user: minutes for user, minutes in (equipe or {}).items() if user in users}
    want = {(t.timemoto_user_id, t.mois): t for t in expected}
    have = {(t.timemoto_user_id, t.mois): t for t in actual}
    found = []
    for key in sorted(want.keys() | have.keys()):
        left, right = want.get(key), have.get(key)
        for name in FIELDS:
            a = getattr(left, name) if left else None
            b = getattr(right, name) if right else None
            if a != b:
                found.append(Difference(key[0], key[1], name, a, b))
    latest = {t.timemoto_user_id: t.minutes_travaillees for t in sorted(expected, key=_month)}
    for user, minutes in sorted(equipe.items()):
        if latest.get(user, 0) != minutes:
            found.append(
                Difference(user, None, "minutes_travaillees_mois", latest.get(user, 0), minutes)
            )
    if erp is not None:
        found += _erp_differences(want, erp, set(equipe))
    return found


def _erp_differences(
    want: dict[tuple[str, date], MonthSummary],
    erp: dict[tuple[str, date], ErpMonth],
    mapped: set[str],
) -> list[Difference]:
    """The ERP's months of the `mapped` users against the model's."""
    found = []
    keys = {key for key in want.keys() | erp.keys() if key[0] in mapped}
    for key in sorted(keys):
        summary, row = want.get(key), erp.get(key)
        pairs = (
            (
                "total_heures",
                erp_hours(summary.minutes_travaillees) if summary else None,
                row.total_heures if row else None,
            ),
            (
                "total_jours_presents",
                summary.jours_travailles if summary else None,
                row.total_jours_presents if row else None,
            ),
        )
        found += [Difference(key[0], key[1], name, a, b) for name, a, b in pairs if a != b]
    return found


def _month(summary: MonthSummary) -> date:
    return summary.mois
