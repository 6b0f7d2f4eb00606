"""Whatever the punches, the exported workbook (read back with openpyxl) says what the database
and the reference model say: `Récapitulatif` is `pointage_resume` exactly, `Détail par jour` is
the model's day rows, `Anomalies` the model's anomalous punches with their reasons, and
`provisoire` the model's open shifts.

Random histories of a few users in Africa/Tunis and Europe/Paris, around DST changes and month
ends (night shifts across them), with anomalies and ignored clockings, mapped to `equipe` or not.
Each example uses fresh user ids on one shared database.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db.engine import DatabaseTarget, create_engine, session_factory
from service.db.export_queries import read_payroll
from service.db.schema import schema_sql
from service.domain.delivery import Punch
from service.domain.payroll import MOTIFS, TYPES, Month, Payroll
from service.domain.payroll_files import render_xlsx
from service.domain.timemoto import TypePointage
from service.settings import Settings
from simulator.worktime_model import monthly_summaries
from tests.support.payroll import (
    INSERT_SQL,
    RESUME_SQL,
    expected_anomalies,
    expected_days,
    insert_row,
    month_of,
    open_shift_on,
    sheet_rows_for,
    workbook_rows,
)
from tests.support.worktime import at

TUNIS = ZoneInfo("Africa/Tunis")
LATER = datetime(2100, 1, 1, tzinfo=UTC)  # every month of the examples is over
KINDS: list[TypePointage] = ["entree", "sortie", "debut_pause", "fin_pause", "inconnu"]
ZONES = ["Africa/Tunis", "Europe/Paris"]
BASES = [
    datetime(2026, 11, 30, 19, 0, tzinfo=UTC),  # a night shift from 30 November into December
    datetime(2026, 3, 28, 18, 0, tzinfo=UTC),  # Paris springs forward on 29 March
    datetime(2026, 10, 24, 18, 0, tzinfo=UTC),  # Paris falls back on 25 October
    datetime(2026, 1, 31, 17, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
]
GAPS = st.sampled_from([0, 1, 37, 900, 1800, 2 * 3600, 4 * 3600, 8 * 3600, 14 * 3600, 90_000])
NAMES = [
    ("Ben Salah", "Amira"),
    ("Jlassi", "Syrine"),
    ('O"Brien; fils', "Zoé"),
    ("Lefèvre", "Éloïse"),
    ("Trabelsi", "Mohamed-Amine"),
]


@dataclass(frozen=True)
class Draft:
    kind: TypePointage
    gap: int
    other_zone: bool
    ignore: bool


@dataclass(frozen=True)
class User:
    drafts: list[Draft]
    base: datetime
    zone: str
    names: tuple[str, str]
    mapped: bool


drafts = st.builds(
    Draft,
    kind=st.sampled_from(KINDS[:2] * 4 + KINDS),
    gap=GAPS,
    other_zone=st.integers(0, 9).map(lambda n: n == 0),
    ignore=st.integers(0, 9).map(lambda n: n == 0),
)
users = st.builds(
    User,
    drafts=st.lists(drafts, min_size=1, max_size=16),
    base=st.sampled_from(BASES),
    zone=st.sampled_from(ZONES),
    names=st.sampled_from(NAMES),
    mapped=st.booleans(),
)


class Exporter:
    """One event loop for the examples: asyncpg to insert, the service's engine to export."""

    def __init__(self, url: str) -> None:
        self.runner = asyncio.Runner()
        self.connection: asyncpg.Connection = self.runner.run(asyncpg.connect(url, timeout=10))
        self.runner.run(self.connection.execute(schema_sql()))
        target = DatabaseTarget.from_url(url, Settings(webhook_secrets=("x",)))
        self.engine: AsyncEngine = create_engine(target, pool_timeout=5)

    def execute(self, sql: str, *args: Any) -> None:
        self.runner.run(self.connection.execute(sql, *args))

    def insert(self, punches: list[Punch]) -> None:
        self.runner.run(self.connection.executemany(INSERT_SQL, [insert_row(p) for p in punches]))

    def resume(self, month: Month, user_ids: list[str]) -> dict[str, asyncpg.Record]:
        rows = self.runner.run(self.connection.fetch(RESUME_SQL, month.first_day, user_ids))
        return {row["timemoto_user_id"]: row for row in rows}

    def workbook(self, month: Month, now: datetime = LATER) -> dict[str, list[dict[str, Any]]]:
        async def read() -> Payroll:
            async with session_factory(self.engine)() as session:
                return await read_payroll(session, month, TUNIS, now)

        payroll = self.runner.run(read())
        return workbook_rows(render_xlsx(payroll))

    def close(self) -> None:
        self.runner.run(self.connection.close())
        self.runner.run(self.engine.dispose())
        self.runner.close()


@pytest.fixture(scope="module")
def exporter(database_url: str) -> Iterator[Exporter]:
    made = Exporter(database_url)
    try:
        yield made
    finally:
        made.close()


def punches_of(story: list[User], ids: list[str]) -> list[Punch]:
    punches = []
    for user_id, user in zip(ids, story, strict=True):
        instant = user.base
        nom, prenom = user.names
        payload = {
            "data": {
                "userId": user_id,
                "userFirstName": f"{prenom} (TM)",
                "userLastName": f"{nom} (TM)",
                "userEmployeeNumber": f"M-{user_id[-6:]}",
            }
        }
        for draft in user.drafts:
            instant += timedelta(seconds=draft.gap)
            zone = ZONES[1 - ZONES.index(user.zone)] if draft.other_zone else user.zone
            made = at(user_id, draft.kind, instant, zone, ignore=draft.ignore)
            punches.append(replace(made, payload=json.loads(json.dumps(payload))))
    return punches


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=st.lists(users, min_size=1, max_size=3))
def test_the_workbook_says_what_the_database_and_the_model_say(
    exporter: Exporter, story: list[User]
) -> None:
    tag = uuid.uuid4().hex[:12]
    ids = [f"exp-{tag}-{n}" for n in range(len(story))]
    for user_id, user in zip(ids, story, strict=True):
        if user.mapped:
            exporter.execute(
                "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)",
                *user.names,
                user_id,
            )
    punches = punches_of(story, ids)
    exporter.insert(punches)
    by_id = dict(zip(ids, story, strict=True))
    open_shifts = open_shift_on(punches)

    months = sorted({month_of(s.mois) for s in monthly_summaries(punches)})
    for month in months:
        sheets = exporter.workbook(month)

        # Récapitulatif: pointage_resume exactly, with the names and provisoire.
        stored = exporter.resume(month, ids)
        summary = sheet_rows_for(sheets["Récapitulatif"], ids)
        assert sorted(r["Identifiant TimeMoto"] for r in summary) == sorted(stored)
        for row in summary:
            db = stored[row["Identifiant TimeMoto"]]
            user = by_id[row["Identifiant TimeMoto"]]
            nom, prenom = user.names
            expected_names = (nom, prenom) if user.mapped else (f"{nom} (TM)", f"{prenom} (TM)")
            assert (row["Nom"], row["Prénom"]) == expected_names
            assert row["Rattaché à l'ERP"] == ("oui" if user.mapped else "non")
            assert row["N° équipe"] == db["equipe_id"]
            assert row["Matricule"] == f"M-{row['Identifiant TimeMoto'][-6:]}"
            assert row["Minutes travaillées"] == db["minutes_travaillees"]
            assert row["Heures (H:MM)"] == timedelta(minutes=db["minutes_travaillees"])
            assert row["Jours travaillés"] == db["jours_travailles"]
            assert row["Pointages"] == db["nb_pointages"]
            assert row["Anomalies"] == db["nb_anomalies"]
            open_on = open_shifts.get(row["Identifiant TimeMoto"])
            in_month = open_on is not None and month_of(open_on) == month
            assert row["Provisoire"] == ("oui" if in_month else "non")

        # Détail par jour: the model's day rows.
        days = [
            (
                r["Identifiant TimeMoto"],
                r["Date"].date(),
                r["Première entrée"],
                r["Dernière sortie"],
                r["Minutes de pause"],
                r["Minutes travaillées"],
                r["Pointages"],
                r["Anomalies"],
            )
            for r in sheet_rows_for(sheets["Détail par jour"], ids)
        ]
        assert sorted(days) == [
            (
                d.timemoto_user_id,
                d.date_travail,
                d.premiere_entree.time() if d.premiere_entree else None,
                d.derniere_sortie.time() if d.derniere_sortie else None,
                d.minutes_pause,
                d.minutes_travaillees,
                d.nb_pointages,
                d.nb_anomalies,
            )
            for d in expected_days(punches, month)
        ]

        # Anomalies: the model's anomalous punches, with the reason in French.
        anomalies = [
            (
                r["Identifiant TimeMoto"],
                datetime.combine(r["Date"].date(), r["Heure"]),
                r["Pointage"],
                r["Motif"],
            )
            for r in sheet_rows_for(sheets["Anomalies"], ids)
        ]
        assert sorted(anomalies) == [
            (user, local, TYPES[kind], MOTIFS[motif or ""])
            for user, local, kind, motif in expected_anomalies(punches, month)
        ]


def test_every_row_is_provisional_while_the_month_lasts(exporter: Exporter) -> None:
    user = f"exp-{uuid.uuid4().hex[:12]}"
    punches = [
        at(user, "entree", datetime(2026, 6, 10, 7, tzinfo=UTC), "Africa/Tunis"),
        at(user, "sortie", datetime(2026, 6, 10, 15, tzinfo=UTC), "Africa/Tunis"),
    ]
    exporter.insert(punches)
    during = datetime(2026, 6, 30, 22, 59, tzinfo=UTC)  # 23:59 in Tunis
    after = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)  # midnight in Tunis: June is over
    for now, expected in ((during, "oui"), (after, "non")):
        (row,) = sheet_rows_for(exporter.workbook(Month(2026, 6), now)["Récapitulatif"], [user])
        assert row["Provisoire"] == expected
    assert date(2026, 6, 10) == punches[0].date_travail
