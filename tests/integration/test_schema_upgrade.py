"""`db apply` upgrades in place, and says what it did in one line (docs/contract.md §10):
- a database built by an earlier release of this service (its schema from the git history, in
  tests/data/, clockings in `pointage`): the same clockings, the same months, the ERP's layout;
- a database where the ERP's own first schema was run (tests/data/erp_schema_pointage_v1.sql):
  empty, or holding rows its first integration wrote, which are kept in tables of their own.
The DBA's way (psql on the file) gives the same line, as a NOTICE."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.db.schema import SCHEMA_FILE
from service.domain.delivery import Punch
from simulator import expectations, generator
from simulator.worktime_model import MonthSummary, monthly_summaries
from tests.support.databases import Database, fresh_database, psql_executable
from tests.support.erp import (
    DATA,
    ERP_FIRST_SCHEMA,
    expected_days,
    expected_months,
    stored_days,
    stored_months,
)
from tests.support.service import service_cli
from tests.support.webhook import SECRET
from tests.support.worktime import INSERT_SQL, row

# Two earlier releases: the last one before the ERP's layout, and the first with worked time
# (before anomaly reasons and break times: its punches are attributed again on the way).
EARLIER_RELEASES = ("c787840", "4fb3e27")

CLOCKINGS = """
SELECT id, event_id, timemoto_user_id, equipe_id, type_pointage, horodatage, horodatage_brut,
       fuseau_horaire, date_travail, ignore, payload, recu_le
  FROM {table} ORDER BY id
"""
MONTHS = """
SELECT timemoto_user_id, equipe_id, mois, minutes_travaillees, jours_travailles, nb_pointages,
       nb_anomalies
  FROM {table} ORDER BY timemoto_user_id, mois
"""


def db_apply(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return service_cli(
        ["db", "apply"], {"DATABASE_URL": url, "TIMEMOTO_WEBHOOK_SECRET": SECRET}, cwd
    )


def applied_line(url: str, cwd: Path) -> str:
    """`db apply`'s one line, less the database's name; it must succeed."""
    result = db_apply(url, cwd)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0].split(": ", 1)[1]


def psql_file(url: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [psql_executable(), "-v", "ON_ERROR_STOP=1", "-q", "-d", url, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def url(postgres_server_url: str) -> Iterator[str]:
    with fresh_database(postgres_server_url, "schema_upgrade") as made:
        yield made


def history() -> list[Punch]:
    """Two weeks of a generated workshop across a DST change: night shifts, anomalies,
    unmapped users, deliveries out of order."""
    made = generator.generate(6, date(2026, 10, 19), date(2026, 11, 2), seed=1025)
    return expectations.punches(made.jsonl().splitlines())


def mapped_users(punches: list[Punch]) -> list[str]:
    users = sorted({p.timemoto_user_id for p in punches})
    return users[: len(users) - 2]  # the last two stay unmapped


@pytest.mark.parametrize("release", EARLIER_RELEASES)
def test_an_earlier_release_is_upgraded_with_every_clocking_and_month(
    url: str, tmp_path: Path, release: str
) -> None:
    db = Database(url)
    db.execute((DATA / f"schema_pointage_{release}.sql").read_text())
    punches = history()
    mapped = mapped_users(punches)
    for user in mapped[:-1]:  # mapped before its punches
        db.execute("INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ('N', 'P', $1)", user)
    old_insert = INSERT_SQL.replace("pointage_horodatage", "pointage")
    for punch in punches:
        db.execute(old_insert, *row(punch))
    db.execute(  # and one mapped after them
        "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ('N', 'P', $1)", mapped[-1]
    )
    clockings = db.fetch(CLOCKINGS.format(table="pointage"))
    months = db.fetch(MONTHS.format(table="pointage_resume"))
    minutes = db.fetch("SELECT id, temps_travaille_mois FROM equipe ORDER BY id")
    model = monthly_summaries(punches)
    assert [MonthSummary(r[0], *tuple(r)[2:]) for r in months] == model

    line = applied_line(url, tmp_path)
    assert line.startswith(
        f"upgraded from the earlier layout (clockings in pointage): {len(clockings)} clockings"
        f" moved to pointage_horodatage and {len(months)} monthly summaries to"
        " pointage_resume_mensuel; pointage and pointage_resume now in the ERP's layout ("
    ), line

    # The clockings and the months, as they were.
    assert db.fetch(CLOCKINGS.format(table="pointage_horodatage")) == clockings
    assert db.fetch(MONTHS.format(table="pointage_resume_mensuel")) == months
    assert [
        tuple(r) for r in db.fetch("SELECT id, minutes_travaillees_mois FROM equipe ORDER BY id")
    ] == [tuple(r) for r in minutes]
    # The ERP's layout, filled from them.
    assert stored_days(db.fetch, mapped) == expected_days(punches, set(mapped))
    assert stored_months(db.fetch, mapped) == expected_months(punches, set(mapped))
    hours = db.fetch("SELECT temps_travaille_mois FROM equipe ORDER BY id")
    assert [r[0] for r in hours] == [round(Decimal(m[1]) / 60, 2) for m in minutes]
    assert f"({len(stored_days(db.fetch, mapped))} days and " in line
    # Verified, and the next apply has nothing to do.
    verify = service_cli(["db", "verify"], {"DATABASE_URL": url}, tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert applied_line(url, tmp_path) == "in place, nothing to upgrade"
    assert db.fetch(CLOCKINGS.format(table="pointage_horodatage")) == clockings


ERP_EMPLOYEES = """
INSERT INTO equipe (matricule, nom, prenom, fonction, email, actif, taux_horaire,
                    temps_travaille_mois)
VALUES ('LP-014', 'Ben Salah', 'Amira', 'couturière', 'amira@atelier.example', true, 9.50, 8.00),
       ('LP-031', 'Trabelsi', 'Karim', 'coupeur', 'karim@atelier.example', false, 10.25, 0)
"""
# What the first integration could have written: a day and its month.
FIRST_INTEGRATION = """
INSERT INTO pointage (timemoto_id, user_id, date, check_in, check_out, heures_travaillees,
                      present, retard_minutes)
VALUES ('tm_0f3c2a', 1, '2026-11-02', '2026-11-02 08:04', '2026-11-02 17:01', 8.00, true, 4);
INSERT INTO pointage_resume (user_id, mois, total_heures, total_jours_presents,
                             total_jours_absents, total_retards, total_minutes_retard)
VALUES (1, '2026-11', 8.00, 1, 0, 1, 4);
"""
EQUIPE = "SELECT id, matricule, nom, prenom, fonction, email, actif, taux_horaire FROM equipe"


def erp_database(db: Database, *, with_rows: bool) -> tuple[list[Any], list[Any], list[Any]]:
    db.execute(ERP_FIRST_SCHEMA.read_text())
    db.execute(ERP_EMPLOYEES)
    if with_rows:
        db.execute(FIRST_INTEGRATION)
    return db.fetch(EQUIPE), db.fetch("TABLE pointage"), db.fetch("TABLE pointage_resume")


def test_the_erp_s_first_layout_empty_is_upgraded(url: str, tmp_path: Path) -> None:
    db = Database(url)
    employees, _, _ = erp_database(db, with_rows=False)
    assert applied_line(url, tmp_path) == (
        "upgraded from the ERP's first layout: its pointage and pointage_resume were empty and"
        " are now derived from the clockings (pointage_horodatage)"
        " (0 days and 0 months of mapped employees)"
    )
    assert db.fetch(EQUIPE) == employees
    verify = service_cli(["db", "verify"], {"DATABASE_URL": url}, tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The ERP's tables are now kept by the triggers.
    db.execute("UPDATE equipe SET timemoto_user_id = 'u-amira' WHERE id = 1")
    db.execute(
        "INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,"
        " fuseau_horaire, date_travail, payload) VALUES"
        " ('tm_1', 'u-amira', 'entree', '2026-12-01 08:00+01', 'Africa/Tunis', '2026-12-01', '{}'),"
        " ('tm_2', 'u-amira', 'sortie', '2026-12-01 16:30+01', 'Africa/Tunis', '2026-12-01', '{}')"
    )
    rows = db.fetch("SELECT user_id, date, heures_travaillees, present FROM v_pointage_detail")
    assert [tuple(r) for r in rows] == [(1, date(2026, 12, 1), Decimal("8.50"), True)]
    assert applied_line(url, tmp_path) == "in place, nothing to upgrade"


def test_the_rows_of_the_first_integration_are_kept_in_tables_of_their_own(
    url: str, tmp_path: Path
) -> None:
    db = Database(url)
    employees, days, months = erp_database(db, with_rows=True)
    # As a DBA runs it by hand: psql says the line as a NOTICE.
    result = psql_file(url, SCHEMA_FILE)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "pointage schema" in line]
    assert len(notices) == 1
    assert notices[0].endswith(
        "NOTICE:  pointage schema upgraded from the ERP's first layout: its 1 rows of pointage"
        " kept in pointage_premiere_integration; its 1 rows of pointage_resume kept in"
        " pointage_resume_premiere_integration; pointage and pointage_resume are now derived"
        " from the clockings (pointage_horodatage) (0 days and 0 months of mapped employees)"
    ), notices
    assert db.fetch("TABLE pointage_premiere_integration") == days
    assert db.fetch("TABLE pointage_resume_premiere_integration") == months
    assert db.fetch("TABLE pointage") == db.fetch("TABLE pointage_resume") == []
    assert db.fetch(EQUIPE) == employees
    # Applied again (by the service this time): nothing moves, nothing is lost.
    assert applied_line(url, tmp_path) == "in place, nothing to upgrade"
    assert db.fetch("TABLE pointage_premiere_integration") == days


def test_an_unknown_pointage_table_is_left_alone_with_one_line(url: str, tmp_path: Path) -> None:
    db = Database(url)
    db.execute("CREATE TABLE pointage (id serial PRIMARY KEY, quand timestamp)")
    result = db_apply(url, tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "columns this file does not know" in result.stderr
    assert db.value("SELECT to_regclass('pointage_horodatage')") is None
