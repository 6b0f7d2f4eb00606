"""For the payroll export's tests: punches with TimeMoto's names in their payload, the export read
back (openpyxl, csv), and what the reference model says the day rows and open shifts are."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import openpyxl

from service.domain.delivery import Punch, decode, parse_delivery
from service.domain.payroll import Month
from service.domain.worktime import (
    MICROSECONDS_PER_MINUTE,
    Clocking,
    attribute,
    instant,
    order_key,
)
from simulator.deliveries import Employee, attendance_inserted

ACTIONS = {"entree": 0, "sortie": 1, "debut_pause": 2, "fin_pause": 3}

INSERT_SQL = """
INSERT INTO pointage (event_id, timemoto_user_id, type_pointage, horodatage, horodatage_brut,
                      fuseau_horaire, date_travail, ignore, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""

RESUME_SQL = """
SELECT timemoto_user_id, equipe_id, minutes_travaillees, jours_travailles, nb_pointages,
       nb_anomalies
  FROM pointage_resume WHERE mois = $1 AND timemoto_user_id = ANY ($2::text[])
"""


def delivery(employee: Employee, kind: str, local: str, *, ignored: bool = False) -> dict[str, Any]:
    """TimeMoto's delivery of one clocking at local wall-clock time `local` (ISO)."""
    return attendance_inserted(
        employee, ACTIONS[kind], datetime.fromisoformat(local), ignored=ignored
    )


def punch_of(document: dict[str, Any]) -> Punch:
    """The punch the service makes of a delivery (payload included)."""
    parsed = parse_delivery(decode(json.dumps(document).encode()))
    assert parsed.punch is not None
    return parsed.punch


def insert_row(p: Punch) -> tuple[Any, ...]:
    return (
        p.event_id,
        p.timemoto_user_id,
        p.type_pointage,
        p.horodatage,
        p.horodatage_brut,
        p.fuseau_horaire,
        p.date_travail,
        p.ignore,
        json.dumps(p.payload),
    )


# -- the export read back --------------------------------------------------------------------


def workbook_rows(body: bytes) -> dict[str, list[dict[str, Any]]]:
    """Each sheet's rows as {header: value}, read back with openpyxl."""
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    sheets: dict[str, list[dict[str, Any]]] = {}
    for sheet in workbook.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        headers = [str(h) for h in rows[0]]
        sheets[sheet.title] = [dict(zip(headers, row, strict=True)) for row in rows[1:]]
    return sheets


def workbook_headers(body: bytes) -> dict[str, list[str]]:
    workbook = openpyxl.load_workbook(io.BytesIO(body))
    return {
        sheet.title: [str(c.value) for c in next(sheet.iter_rows(max_row=1))]
        for sheet in workbook.worksheets
    }


def csv_rows(body: bytes) -> list[list[str]]:
    """The CSV as a French Excel reads it: UTF-8 with its BOM, `;` between cells."""
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    text = body[3:].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


# -- what the reference model says -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedDay:
    timemoto_user_id: str
    date_travail: date
    premiere_entree: time | None
    derniere_sortie: time | None
    minutes_pause: int
    minutes_travaillees: int
    nb_pointages: int
    nb_anomalies: int


def local_wall_time(clocking: Clocking) -> datetime:
    from zoneinfo import ZoneInfo

    return clocking.horodatage.astimezone(ZoneInfo(clocking.fuseau_horaire)).replace(tzinfo=None)


def _by_user(clockings: Iterable[Clocking]) -> dict[str, list[Clocking]]:
    users: dict[str, list[Clocking]] = defaultdict(list)
    for clocking in clockings:
        if not clocking.ignore:
            users[clocking.timemoto_user_id].append(clocking)
    return {user: sorted(punches, key=order_key) for user, punches in users.items()}


def expected_days(clockings: Iterable[Clocking], month: Month) -> list[ExpectedDay]:
    """The month's day rows by the reference model (service/domain/worktime.py): per user and
    work date, its first entree and last sortie (local), the break and worked minutes of its
    closed shifts (totals rounded down), its punches and anomalies. A closed shift's breaks are
    its elapsed time less its worked time."""

    @dataclass
    class Day:
        entree: datetime | None = None
        sortie: datetime | None = None
        pause_us: int = 0
        travail_us: int = 0
        punches: int = 0
        anomalies: int = 0

    days: dict[tuple[str, date], Day] = defaultdict(Day)
    for user, punches in _by_user(clockings).items():
        last_entree: Clocking | None = None
        for punch, attribution in zip(punches, attribute(punches), strict=True):
            day = days[user, attribution.jour]
            if punch.type_pointage == "entree":
                day.entree = day.entree or local_wall_time(punch)
                last_entree = punch
            elif punch.type_pointage == "sortie":
                day.sortie = local_wall_time(punch)
                if attribution.poste_ferme:
                    assert last_entree is not None
                    elapsed_us = (instant(punch) - instant(last_entree)) // timedelta(
                        microseconds=1
                    )
                    day.pause_us += elapsed_us - attribution.travail_us
            day.travail_us += attribution.travail_us
            day.punches += 1
            day.anomalies += attribution.anomalie
    return [
        ExpectedDay(
            user,
            jour,
            day.entree.time() if day.entree else None,
            day.sortie.time() if day.sortie else None,
            day.pause_us // MICROSECONDS_PER_MINUTE,
            day.travail_us // MICROSECONDS_PER_MINUTE,
            day.punches,
            day.anomalies,
        )
        for (user, jour), day in sorted(days.items())
        if month.first_day <= jour < month.next.first_day
    ]


def expected_anomalies(clockings: Iterable[Clocking], month: Month) -> list[tuple[str, datetime]]:
    """(user, local wall-clock time) of each anomalous punch counting on the month."""
    found = []
    for user, punches in _by_user(clockings).items():
        for punch, attribution in zip(punches, attribute(punches), strict=True):
            if attribution.anomalie and month.first_day <= attribution.jour < month.next.first_day:
                found.append((user, local_wall_time(punch)))
    return sorted(found)


def open_shift_on(clockings: Iterable[Clocking]) -> dict[str, date | None]:
    """Each user's open shift's date: its last entree or sortie is an entree."""
    result: dict[str, date | None] = {}
    for user, punches in _by_user(clockings).items():
        anchors = [p for p in punches if p.type_pointage in ("entree", "sortie")]
        last = anchors[-1] if anchors else None
        result[user] = (
            local_wall_time(last).date() if last and last.type_pointage == "entree" else None
        )
    return result


def month_of(day: date) -> Month:
    return Month(day.year, day.month)


def sheet_rows_for(rows: Sequence[dict[str, Any]], users: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(users)
    return [row for row in rows if row["Identifiant TimeMoto"] in wanted]
