"""What the ERP's own pages read (docs/contract.md §10), and what the reference model says they
should: its first schema (tests/data), one `pointage` row per employee and work date, one
`pointage_resume` row per employee and month, hours to 2 decimals."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.expectations import erp_hours
from simulator.worktime_model import Clocking, attributed, daily_summaries, monthly_summaries

DATA = Path(__file__).resolve().parents[1] / "data"
# The ERP's own first schema_pointage.sql: its equipe, pointage, pointage_resume, v_pointage_detail.
ERP_FIRST_SCHEMA = DATA / "erp_schema_pointage_v1.sql"


@dataclass(frozen=True, slots=True)
class ErpDay:
    """A row of the ERP's `pointage`, less its ids and times of writing."""

    timemoto_user_id: str
    date: date
    check_in: datetime | None  # local wall-clock time, naive
    check_out: datetime | None
    heures_travaillees: Decimal
    present: bool
    retard_minutes: int = 0


@dataclass(frozen=True, slots=True)
class ErpMonth:
    """A row of the ERP's `pointage_resume`, less its ids and times of writing."""

    timemoto_user_id: str
    mois: str  # YYYY-MM
    total_heures: Decimal
    total_jours_presents: int
    total_jours_absents: int = 0
    total_retards: int = 0
    total_minutes_retard: int = 0


def expected_days(clockings: Iterable[Clocking], users: set[str]) -> list[ErpDay]:
    """The ERP's day rows of `users` (the mapped ones) as the reference model has them."""
    punches = list(clockings)
    closed = {(c.timemoto_user_id, a.jour) for c, a in attributed(punches) if a.poste_ferme}
    return [
        ErpDay(
            d.timemoto_user_id,
            d.date_travail,
            d.premiere_entree,
            d.derniere_sortie,
            erp_hours(d.minutes_travaillees),
            (d.timemoto_user_id, d.date_travail) in closed,
        )
        for d in daily_summaries(punches)
        if d.timemoto_user_id in users
    ]


def expected_months(clockings: Iterable[Clocking], users: set[str]) -> list[ErpMonth]:
    return [
        ErpMonth(
            m.timemoto_user_id,
            f"{m.mois:%Y-%m}",
            erp_hours(m.minutes_travaillees),
            m.jours_travailles,
        )
        for m in monthly_summaries(clockings)
        if m.timemoto_user_id in users
    ]


DAYS_SQL = """
SELECT e.timemoto_user_id, p.date, p.check_in, p.check_out, p.heures_travaillees, p.present,
       p.retard_minutes
  FROM pointage p JOIN equipe e ON e.id = p.user_id
 WHERE e.timemoto_user_id = ANY ($1::text[])
 ORDER BY e.timemoto_user_id, p.date
"""

MONTHS_SQL = """
SELECT e.timemoto_user_id, r.mois, r.total_heures, r.total_jours_presents, r.total_jours_absents,
       r.total_retards, r.total_minutes_retard
  FROM pointage_resume r JOIN equipe e ON e.id = r.user_id
 WHERE e.timemoto_user_id = ANY ($1::text[])
 ORDER BY e.timemoto_user_id, r.mois
"""

Fetch = Callable[..., list[Any]]


def stored_days(fetch: Fetch, users: Iterable[str]) -> list[ErpDay]:
    return [ErpDay(*row) for row in fetch(DAYS_SQL, sorted(users))]


def stored_months(fetch: Fetch, users: Iterable[str]) -> list[ErpMonth]:
    return [ErpMonth(*row) for row in fetch(MONTHS_SQL, sorted(users))]
