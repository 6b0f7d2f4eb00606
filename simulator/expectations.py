"""`expect` and `check`: what docs/contract.md §3 says the months add up to, and what the database
holds.

The expectation comes from the reference model `simulator.worktime_model.monthly_summaries`, fed the
punches the service itself would read (service.domain.delivery), each delivery id once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
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
    mois: date | None  # None: equipe.temps_travaille_mois, which has no month
    field: str
    expected: int | None  # None: no such row
    actual: int | None

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


def database_totals(database: Database) -> list[MonthSummary]:
    """`pointage_resume`, every user and month."""
    rows = database.fetch(
        "SELECT timemoto_user_id, mois, minutes_travaillees, jours_travailles, nb_pointages,"
        " nb_anomalies FROM pointage_resume ORDER BY timemoto_user_id, mois"
    )
    return [MonthSummary(**dict(row)) for row in rows]


def temps_travaille_mois(database: Database) -> dict[str, int]:
    """`equipe.temps_travaille_mois` of every mapped TimeMoto user."""
    rows = database.fetch(
        "SELECT timemoto_user_id, temps_travaille_mois FROM equipe"
        " WHERE timemoto_user_id IS NOT NULL"
    )
    return {row["timemoto_user_id"]: int(row["temps_travaille_mois"]) for row in rows}


def differences(
    expected: list[MonthSummary],
    actual: list[MonthSummary],
    equipe: dict[str, int] | None = None,
) -> list[Difference]:
    """Every field that differs, rows missing on either side, and (given `equipe`) each mapped
    user's `temps_travaille_mois` against the minutes of its latest expected month. Only the
    users of `expected` count: the database may hold others (the ERP's live data)."""
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
                Difference(user, None, "temps_travaille_mois", latest.get(user, 0), minutes)
            )
    return found


def _month(summary: MonthSummary) -> date:
    return summary.mois
