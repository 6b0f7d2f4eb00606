"""For the payroll export's tests: punches with TimeMoto's names in their payload, the export read
back (openpyxl, csv), and what the reference model says the day rows and open shifts are."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
import openpyxl

from service.db.schema import schema_sql
from service.domain.delivery import Punch, decode, parse_delivery
from service.domain.payroll import Month
from service.domain.timemoto import ClockingAction
from simulator.deliveries import Employee, attendance_inserted
from simulator.worktime_model import (
    ANCHORS,
    Clocking,
    DaySummary,
    attributed,
    daily_summaries,
    local_date,
    local_time,
)

ACTIONS = {action.type_pointage: action for action in ClockingAction}

INSERT_SQL = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, ignore, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""

RESUME_SQL = """
SELECT timemoto_user_id, equipe_id, minutes_travaillees, jours_travailles, nb_pointages,
       nb_anomalies
  FROM pointage_resume_mensuel WHERE mois = $1 AND timemoto_user_id = ANY ($2::text[])
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


# -- what the reference model says (simulator/worktime_model.py) -----------------------------


def expected_days(clockings: Iterable[Clocking], month: Month) -> list[DaySummary]:
    """The month's day rows: the model's `daily_summaries` whose work date is in the month."""
    return [
        day
        for day in daily_summaries(clockings)
        if month.first_day <= day.date_travail < month.next.first_day
    ]


def expected_anomalies(
    clockings: Iterable[Clocking], month: Month
) -> list[tuple[str, datetime, str, str | None]]:
    """(user, local wall-clock time, type, reason) of each anomalous punch counting on the
    month."""
    return sorted(
        (c.timemoto_user_id, local_time(c), c.type_pointage, a.motif_anomalie)
        for c, a in attributed(clockings)
        if a.anomalie and month.first_day <= a.jour < month.next.first_day
    )


def open_shift_on(clockings: Iterable[Clocking]) -> dict[str, date | None]:
    """Each user's open shift's work date: its last entree or sortie is an entree."""
    last: dict[str, Clocking] = {}
    for clocking, _ in attributed(clockings):  # by user, in the model's order
        last.setdefault(clocking.timemoto_user_id, clocking)
        if clocking.type_pointage in ANCHORS:
            last[clocking.timemoto_user_id] = clocking
    return {
        user: local_date(c) if c.type_pointage == "entree" else None for user, c in last.items()
    }


def month_of(day: date) -> Month:
    return Month(day.year, day.month)


def sheet_rows_for(rows: Sequence[dict[str, Any]], users: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(users)
    return [row for row in rows if row["Identifiant TimeMoto"] in wanted]


def seed(
    url: str, mapped: Iterable[tuple[str, str, str]], deliveries: Sequence[dict[str, Any]]
) -> None:
    """The schema, `equipe` rows (nom, prenom, TimeMoto user) and the deliveries' punches."""

    async def go() -> None:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            await connection.execute(schema_sql())
            await connection.executemany(
                "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)", mapped
            )
            await connection.executemany(INSERT_SQL, [insert_row(punch_of(d)) for d in deliveries])
        finally:
            await connection.close()

    asyncio.run(go())
