"""The ERP's own attendance pages (docs/contract.md §10): the SQL they run, unchanged, on a database
where the ERP's first schema was applied before ours, fed through the webhook by random histories
(generated workshops with night shifts, out-of-order inserts and unmapped users, a Paris night
worker across both daylight-saving changes, corrections, employees mapped late). What they show must
be what the reference model says: one row per employee and day, hours = minutes / 60."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from service.domain.delivery import Punch, parse_delivery
from service.domain.timemoto import ClockingAction
from simulator import expectations, generator
from simulator.deliveries import Employee, attendance_inserted
from simulator.expectations import erp_hours
from simulator.worktime_model import monthly_summaries
from tests.support.databases import Database
from tests.support.erp import (
    ERP_FIRST_SCHEMA,
    ErpDay,
    expected_days,
    expected_months,
    stored_days,
    stored_months,
)
from tests.support.service import InProcessService, service_settings, wait_until
from tests.support.webhook import post, verifier

IN, OUT, BREAK_START, BREAK_END = ClockingAction

# ---------------------------------------------------------------------------------------------
# The ERP's pages, as they query (its `pointage` API): not ours to change.
# ---------------------------------------------------------------------------------------------

# The list of presences, filtered by date...
PRESENCES_BY_DATE = """
SELECT p.id, p.user_id, e.nom, e.prenom, e.matricule, p.date, p.check_in, p.check_out,
       p.heures_travaillees, p.present, p.retard_minutes
  FROM pointage p
  JOIN equipe e ON p.user_id = e.id
 WHERE p.date = $1
 ORDER BY e.nom, e.prenom
"""
# ... and by employee, over a period.
PRESENCES_BY_USER = """
SELECT p.id, p.date, p.check_in, p.check_out, p.heures_travaillees, p.present, p.retard_minutes,
       p.timemoto_id
  FROM pointage p
 WHERE p.user_id = $1 AND p.date BETWEEN $2 AND $3
 ORDER BY p.date DESC
"""
# The same through its view.
DETAIL_BY_DATE = """
SELECT user_id, nom, prenom, fonction, email, heures_travaillees, present, a_retard
  FROM v_pointage_detail WHERE date = $1 ORDER BY nom, prenom
"""
# Who is here today: every active employee, with today's row if any.
PRESENCE_TODAY = """
SELECT e.id, e.nom, e.prenom, e.matricule, e.fonction, p.check_in, p.check_out,
       p.heures_travaillees, COALESCE(p.present, false) AS present,
       COALESCE(p.retard_minutes, 0) AS retard_minutes
  FROM equipe e
  LEFT JOIN pointage p ON p.user_id = e.id AND p.date = CURRENT_DATE
 WHERE e.actif = true
 ORDER BY e.nom, e.prenom
"""
PRESENCE_TODAY_COUNTS = """
SELECT COUNT(*) AS total,
       COUNT(*) FILTER (WHERE p.present) AS presents,
       COUNT(*) FILTER (WHERE p.id IS NULL OR NOT p.present) AS absents,
       COUNT(*) FILTER (WHERE p.retard_minutes > 0) AS retards
  FROM equipe e
  LEFT JOIN pointage p ON p.user_id = e.id AND p.date = CURRENT_DATE
 WHERE e.actif = true
"""
# The monthly summaries of one month, with what they cost.
MONTHLY_SUMMARIES = """
SELECT r.id, r.user_id, e.nom, e.prenom, e.matricule, r.mois, r.total_heures,
       r.total_jours_presents, r.total_jours_absents, r.total_retards, r.total_minutes_retard,
       ROUND(r.total_heures * e.taux_horaire, 2) AS montant
  FROM pointage_resume r
  JOIN equipe e ON r.user_id = e.id
 WHERE r.mois = $1
 ORDER BY e.nom, e.prenom
"""
# The dashboard's counters.
COUNTERS = """
SELECT (SELECT COUNT(*) FROM pointage WHERE date >= date_trunc('month', CURRENT_DATE))
           AS pointages_mois,
       (SELECT COUNT(*) FROM pointage WHERE date = CURRENT_DATE) AS pointages_aujourdhui,
       (SELECT COUNT(DISTINCT user_id) FROM pointage WHERE timemoto_id IS NOT NULL)
           AS employes_timemoto
"""

RATE = Decimal("12.50")  # every employee's taux_horaire


# ---------------------------------------------------------------------------------------------
# The histories, and what the model says of them
# ---------------------------------------------------------------------------------------------


@dataclass
class Fed:
    """What was sent, and who is who in `equipe`."""

    punches: list[Punch]  # as the service must hold them, corrections applied
    mapped: dict[str, int]  # TimeMoto user -> equipe.id (mapped at the start or late)
    late: set[str]  # of which mapped after their punches
    unmapped: set[str]
    inactive: set[str]  # mapped, but not `actif`
    today: date  # the database's CURRENT_DATE when the pages were read
    answers: Counter[str]


PARIS_NIGHTS = (date(2026, 3, 28), date(2026, 10, 24))  # each night holds a DST change


def paris_night_worker() -> tuple[Employee, list[dict[str, Any]]]:
    worker = Employee("u-paris-nuit", "Chloé", "Garnier", "LP-777", time_zone="Europe/Paris")
    deliveries = []
    for night in PARIS_NIGHTS:
        for offset in (-1, 0, 1):
            day = night + timedelta(days=offset)
            start = datetime.combine(day, datetime.min.time()) + timedelta(hours=22)
            deliveries += [
                attendance_inserted(worker, IN, start),
                attendance_inserted(worker, BREAK_START, start + timedelta(hours=3)),
                attendance_inserted(worker, BREAK_END, start + timedelta(hours=3, minutes=20)),
                attendance_inserted(worker, OUT, start + timedelta(hours=8)),
            ]
    return worker, deliveries


def around_today(today: date) -> dict[str, list[dict[str, Any]]]:
    """Whatever day the test runs on: one employee who worked today (two shifts), one whose
    shift today is still open, one who is never mapped, one mapped only at the end."""

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute)

    worked = Employee("u-aujourdhui", "Sami", "Sassi", "LP-801")
    still_in = Employee("u-encore-la", "Ines", "Dridi", "LP-802")
    stranger = Employee("u-inconnu", "Nour", "Ayari", "LP-803")
    late = Employee("u-tardif", "Anis", "Mejri", "LP-804")
    return {
        worked.user_id: [
            attendance_inserted(worked, IN, at(today, 8)),
            attendance_inserted(worked, OUT, at(today, 12)),
            attendance_inserted(worked, IN, at(today, 13)),
            attendance_inserted(worked, OUT, at(today, 17, 7)),
        ],
        still_in.user_id: [attendance_inserted(still_in, IN, at(today, 7, 30))],
        stranger.user_id: [
            attendance_inserted(stranger, IN, at(today - timedelta(days=1), 8)),
            attendance_inserted(stranger, OUT, at(today - timedelta(days=1), 16)),
        ],
        late.user_id: [
            attendance_inserted(late, IN, at(today - timedelta(days=3), 6)),
            attendance_inserted(late, OUT, at(today - timedelta(days=3), 14, 30)),
        ],
    }


def corrected(update: dict[str, Any], original: Punch) -> Punch:
    """The punch as an `attendance.updated` leaves it: its new times, its own delivery id."""
    as_inserted = parse_delivery({**update, "event": "attendance.inserted"}).punch
    assert as_inserted is not None
    return replace(as_inserted, event_id=original.event_id, payload=original.payload)


def corrections(
    deliveries: list[dict[str, Any]], rng: random.Random
) -> list[tuple[dict[str, Any], str]]:
    """A few `attendance.updated` (a sortie moved 17 minutes later) and `attendance.deleted` (an
    entree), each naming exactly one stored clocking; with the delivery id it corrects."""
    keys = Counter((d["data"]["userId"], d["data"]["timeInserted"]) for d in deliveries)
    unique = {
        d["id"]: d for d in deliveries if keys[d["data"]["userId"], d["data"]["timeInserted"]] == 1
    }
    sorties = sorted(i for i, d in unique.items() if d["data"]["clockingActionTypeId"] == OUT)
    entrees = sorted(i for i, d in unique.items() if d["data"]["clockingActionTypeId"] == IN)
    found = []
    for event_id in rng.sample(sorties, 5):
        update = json.loads(json.dumps(unique[event_id]))
        update["id"] = f"tm_fix_{event_id[3:15]}"
        update["event"] = "attendance.updated"
        for field in ("timeLogged", "timeLoggedRounded"):
            moved = datetime.fromisoformat(update["data"][field]) + timedelta(minutes=17)
            update["data"][field] = moved.isoformat(timespec="seconds")
        update["data"]["recordHash"] = update["data"]["recordHash"] ^ 1
        found.append((update, event_id))
    for event_id in rng.sample(entrees, 2):
        deleted = json.loads(json.dumps(unique[event_id]))
        deleted["id"] = f"tm_del_{event_id[3:15]}"
        deleted["event"] = "attendance.deleted"
        found.append((deleted, event_id))
    return found


def employee_of(delivery: dict[str, Any]) -> Employee:
    data = delivery["data"]
    return Employee(
        data["userId"], data["userFirstName"], data["userLastName"], data["userEmployeeNumber"],
        data["timeZone"],
    )  # fmt: skip


def add_employee(database: Database, member: Employee, *, actif: bool = True) -> int:
    return int(
        database.value(
            "INSERT INTO equipe (matricule, nom, prenom, fonction, email, actif, taux_horaire,"
            " timemoto_user_id) VALUES ($1, $2, $3, 'couture', $4, $5, $6, $7) RETURNING id",
            f"{member.employee_number}/{member.user_id[:6]}",  # two generated companies
            member.last_name,
            member.first_name,
            f"{member.user_id}@atelier.example",
            actif,
            RATE,
            member.user_id,
        )
    )


@pytest.fixture(scope="module")
def erp_service(
    database_url: str, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessService]:
    """The service, started on a database where the ERP's first schema was run first."""
    database.execute(ERP_FIRST_SCHEMA.read_text())
    workdir = tmp_path_factory.mktemp("service")
    with InProcessService(service_settings(database_url, workdir)) as running:
        assert wait_until(lambda: verifier(running.client).status_code == 200, 30)
        yield running


@pytest.fixture(scope="module")
def fed(erp_service: InProcessService, database: Database) -> Fed:
    rng = random.Random(25)
    today = database.value("SELECT CURRENT_DATE")
    recent = generator.generate(9, today - timedelta(days=20), today, seed=2510)
    autumn = generator.generate(5, date(2026, 10, 19), date(2026, 11, 2), seed=2511)
    worker, paris = paris_night_worker()
    extra = around_today(today)
    staff = [*recent.company.staff, *autumn.company.staff]
    employees = {m.employee.user_id: m.employee for m in staff} | {
        d[0]["data"]["userId"]: employee_of(d[0]) for d in extra.values()
    }
    deliveries = [*recent.deliveries, *autumn.deliveries, *paris]
    deliveries += [d for ds in extra.values() for d in ds]

    # Mapped from the start: the staff the generator maps, the Paris worker and today's two;
    # the first of them no longer active. Half of the generator's unmapped users, and
    # u-tardif, get mapped at the end; u-inconnu never is.
    first = [m.employee for m in staff if m.mapped] + [worker]
    first += [employees["u-aujourdhui"], employees["u-encore-la"]]
    unmapped_staff = sorted(m.employee.user_id for m in staff if not m.mapped)
    late = set(unmapped_staff[: len(unmapped_staff) // 2]) | {"u-tardif"}
    mapped = {e.user_id: add_employee(database, e, actif=e is not first[0]) for e in first}

    answers: Counter[str] = Counter()
    for delivery in deliveries:
        answers[post(erp_service.client, delivery).json()["status"]] += 1
    # The Paris worker's nights keep their figures (test_the_night_across_each_dst_change): its
    # event ids are random, so a sample of sorties could otherwise move one 17 minutes.
    fixes = corrections([d for d in deliveries if d["data"]["userId"] != worker.user_id], rng)
    for fix, _ in fixes:
        answers[post(erp_service.client, fix).json()["status"]] += 1
    for user in sorted(late):
        mapped[user] = add_employee(database, employees[user])

    model = {p.event_id: p for p in expectations.punches(json.dumps(d) for d in deliveries)}
    for fix, event_id in fixes:
        if fix["event"] == "attendance.deleted":
            del model[event_id]
        else:
            model[event_id] = corrected(fix, model[event_id])
    punches = list(model.values())

    def stored() -> int:
        return int(database.value("SELECT count(*) FROM pointage_horodatage"))

    assert wait_until(lambda: stored() == len(punches), 30), (stored(), len(punches))
    return Fed(
        punches,
        mapped,
        late,
        {u for u in unmapped_staff if u not in late} | {"u-inconnu"},
        {first[0].user_id},
        today,
        answers,
    )


# ---------------------------------------------------------------------------------------------
# The pages
# ---------------------------------------------------------------------------------------------


def test_every_delivery_was_taken(fed: Fed) -> None:
    assert set(fed.answers) <= {"stored", "duplicate", "applied"}, fed.answers
    assert fed.answers["applied"] == 7 and fed.answers["duplicate"] > 0


def test_one_row_per_employee_and_day_as_the_model_says(fed: Fed, database: Database) -> None:
    rows = database.fetch("SELECT user_id, date, count(*) AS n FROM pointage GROUP BY 1, 2")
    assert rows and all(row["n"] == 1 for row in rows)
    assert stored_days(database.fetch, fed.mapped) == expected_days(fed.punches, set(fed.mapped))
    # The late-mapped employees' days appeared; the unmapped ones have none.
    have = {row["user_id"] for row in rows}
    assert {fed.mapped[u] for u in fed.late} <= have
    assert len(have) == len(
        {d.timemoto_user_id for d in expected_days(fed.punches, set(fed.mapped))}
    )
    assert fed.unmapped and not any(
        d.timemoto_user_id in fed.unmapped for d in stored_days(database.fetch, fed.unmapped)
    )


def test_the_night_across_each_dst_change(fed: Fed, database: Database) -> None:
    # 22:00 to 06:00 less 20 minutes of break: 8 h 40 the night the clocks go back, 6 h 40 the
    # night they go forward, 7 h 40 on the nights around.
    user = fed.mapped["u-paris-nuit"]
    hours = {}
    for night in PARIS_NIGHTS:
        rows = database.fetch(
            PRESENCES_BY_USER, user, night - timedelta(days=1), night + timedelta(days=1)
        )
        hours |= {row["date"]: row["heures_travaillees"] for row in rows}
        assert all(row["present"] and row["check_in"].hour == 22 for row in rows)
    assert hours[date(2026, 3, 28)] == Decimal("6.67")
    assert hours[date(2026, 10, 24)] == Decimal("8.67")
    assert hours[date(2026, 3, 27)] == hours[date(2026, 10, 25)] == Decimal("7.67")


def test_presences_by_date_and_by_employee(fed: Fed, database: Database) -> None:
    expected = expected_days(fed.punches, set(fed.mapped))
    user_of = {equipe_id: user for user, equipe_id in fed.mapped.items()}
    dates = sorted({d.date for d in expected})
    for day in [fed.today, date(2026, 10, 25), *random.Random(3).sample(dates, 5)]:
        rows = database.fetch(PRESENCES_BY_DATE, day)
        got = {
            ErpDay(
                user_of[r["user_id"]], r["date"], r["check_in"], r["check_out"],
                r["heures_travaillees"], r["present"], r["retard_minutes"],
            )
            for r in rows
        }  # fmt: skip
        assert len(got) == len(rows)
        assert got == {d for d in expected if d.date == day}
        detail = database.fetch(DETAIL_BY_DATE, day)
        assert [(r["user_id"], r["heures_travaillees"]) for r in detail] == [
            (r["user_id"], r["heures_travaillees"]) for r in rows
        ]
        assert not any(r["a_retard"] for r in detail)
    user = sorted(fed.late)[0]
    rows = database.fetch(PRESENCES_BY_USER, fed.mapped[user], date(2000, 1, 1), date(2100, 1, 1))
    mine = [d for d in expected if d.timemoto_user_id == user]
    assert [(r["date"], r["heures_travaillees"]) for r in rows] == [
        (d.date, d.heures_travaillees) for d in reversed(mine)
    ]
    assert len({r["timemoto_id"] for r in rows}) == len(rows)


def test_today_s_presence_of_active_employees(fed: Fed, database: Database) -> None:
    expected = expected_days(fed.punches, set(fed.mapped))
    active = set(fed.mapped) - fed.inactive
    present = {d.timemoto_user_id for d in expected if d.date == fed.today and d.present}
    rows = database.fetch(PRESENCE_TODAY)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == len(active)  # each active employee once
    assert {row["id"] for row in rows if row["present"]} == {
        fed.mapped[u] for u in present & active
    }
    counts = database.fetch(PRESENCE_TODAY_COUNTS)[0]
    assert tuple(counts) == (len(active), len(present & active), len(active - present), 0)
    assert fed.mapped["u-aujourdhui"] in {row["id"] for row in rows if row["present"]}
    still_in = next(row for row in rows if row["id"] == fed.mapped["u-encore-la"])
    assert still_in["check_in"] is not None and not still_in["present"]  # no closed shift yet


def test_monthly_summaries_by_month(fed: Fed, database: Database) -> None:
    expected = expected_months(fed.punches, set(fed.mapped))
    assert stored_months(database.fetch, fed.mapped) == expected
    user_of = {equipe_id: user for user, equipe_id in fed.mapped.items()}
    for mois in sorted({m.mois for m in expected}):
        rows = database.fetch(MONTHLY_SUMMARIES, mois)
        assert sorted((user_of[r["user_id"]], r["total_heures"]) for r in rows) == sorted(
            (m.timemoto_user_id, m.total_heures) for m in expected if m.mois == mois
        )
        cents = Decimal("0.01")
        assert all(
            r["montant"] == (r["total_heures"] * RATE).quantize(cents, ROUND_HALF_UP) for r in rows
        )


def test_equipe_hours_of_the_latest_month(fed: Fed, database: Database) -> None:
    latest = {m.timemoto_user_id: m.minutes_travaillees for m in monthly_summaries(fed.punches)}
    rows = database.fetch(
        "SELECT timemoto_user_id, temps_travaille_mois, minutes_travaillees_mois FROM equipe"
        " WHERE timemoto_user_id IS NOT NULL"
    )
    assert {r["timemoto_user_id"]: tuple(r)[1:] for r in rows} == {
        user: (erp_hours(latest.get(user, 0)), latest.get(user, 0)) for user in fed.mapped
    }


def test_counters(fed: Fed, database: Database) -> None:
    expected = expected_days(fed.punches, set(fed.mapped))
    month = fed.today.replace(day=1)
    row = database.fetch(COUNTERS)[0]
    assert tuple(row) == (
        sum(1 for d in expected if d.date >= month),
        sum(1 for d in expected if d.date == fed.today),
        len({d.timemoto_user_id for d in expected}),
    )
