"""docs/contract.md §3, rule by rule, with one example each: the reference model
(simulator/worktime_model.py) and the database's trigger (sql/schema_pointage.sql) must both give
the expected month.

Each expected month reads (mois, minutes_travaillees, jours_travailles, nb_pointages,
nb_anomalies). The database receives the punches in reverse order: arrival order never matters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from service.db.schema import schema_sql
from service.domain.delivery import Punch
from simulator.worktime_model import MonthSummary, monthly_summaries
from tests.support.worktime import PunchDatabase, punch

Month = tuple[date, int, int, int, int]
Summarize = Callable[[list[Punch]], list[Month]]

NOV = date(2026, 11, 1)


def p(kind: str, local: str, zone: str = "Africa/Tunis", **options: bool | int) -> Punch:
    return punch("u", kind, local, zone, **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Rule:
    name: str
    punches: list[Punch]
    expected: list[Month]


RULES = [
    Rule(
        "an entree and the next sortie make a shift",
        [p("entree", "2026-11-30T08:00"), p("sortie", "2026-11-30T16:30")],
        [(NOV, 510, 1, 2, 0)],
    ),
    Rule(
        "breaks inside a shift are not worked",
        [
            p("entree", "2026-11-30T08:00"),
            p("debut_pause", "2026-11-30T12:00"),
            p("fin_pause", "2026-11-30T12:45"),
            p("sortie", "2026-11-30T17:00"),
        ],
        [(NOV, 495, 1, 4, 0)],
    ),
    Rule(
        "a break never ended lasts until the sortie",
        [
            p("entree", "2026-11-30T08:00"),
            p("debut_pause", "2026-11-30T12:00"),
            p("sortie", "2026-11-30T16:00"),
        ],
        [(NOV, 240, 1, 3, 0)],
    ),
    Rule(
        "break punches outside a shift count as punches, nothing else",
        [
            p("debut_pause", "2026-11-30T07:00"),
            p("fin_pause", "2026-11-30T07:30"),
            p("entree", "2026-11-30T08:00"),
            p("sortie", "2026-11-30T16:00"),
        ],
        [(NOV, 480, 1, 4, 0)],
    ),
    Rule(
        "a night shift over a month end belongs, with all its punches, to its entree's date",
        [
            p("entree", "2026-01-31T22:00"),
            p("inconnu", "2026-02-01T02:00"),
            p("sortie", "2026-02-01T06:00"),
        ],
        [(date(2026, 1, 1), 480, 1, 3, 0)],
    ),
    Rule(
        "a night shift over the spring DST change counts the hours that really elapsed",
        [
            p("entree", "2026-03-28T22:00", "Europe/Paris"),
            p("sortie", "2026-03-29T06:00", "Europe/Paris"),
        ],
        [(date(2026, 3, 1), 420, 1, 2, 0)],
    ),
    Rule(
        "a night shift over the autumn DST change counts the hours that really elapsed",
        [
            p("entree", "2026-10-24T22:00", "Europe/Paris"),
            p("sortie", "2026-10-25T06:00", "Europe/Paris"),
        ],
        [(date(2026, 10, 1), 540, 1, 2, 0)],
    ),
    Rule(
        "an entree while a shift is open: the earlier entree is an anomaly and counts nothing",
        [
            p("entree", "2026-11-30T08:00"),
            p("entree", "2026-11-30T09:00"),
            p("sortie", "2026-11-30T17:00"),
        ],
        [(NOV, 480, 1, 3, 1)],
    ),
    Rule(
        "a sortie with no open shift is an anomaly",
        [p("sortie", "2026-11-30T17:00")],
        [(NOV, 0, 0, 1, 1)],
    ),
    Rule(
        "a shift longer than 24 hours is not a shift: both punches are anomalies",
        [p("entree", "2026-11-02T08:00"), p("sortie", "2026-11-03T08:01")],
        [(NOV, 0, 0, 2, 2)],
    ),
    Rule(
        "a shift of exactly 24 hours is still a shift",
        [p("entree", "2026-11-02T08:00"), p("sortie", "2026-11-03T08:00")],
        [(NOV, 1440, 1, 2, 0)],
    ),
    Rule(
        "the last entree with nothing after it is an open shift: no time, no anomaly yet",
        [
            p("entree", "2026-11-29T08:00"),
            p("sortie", "2026-11-29T12:00"),
            p("entree", "2026-11-30T08:00"),
        ],
        [(NOV, 240, 1, 3, 0)],
    ),
    Rule(
        "ignored clockings are left out entirely",
        [
            p("entree", "2026-11-30T08:00"),
            p("sortie", "2026-11-30T12:00", ignore=True),
            p("sortie", "2026-11-30T16:00"),
        ],
        [(NOV, 480, 1, 2, 0)],
    ),
    Rule(
        "jours_travailles counts distinct work dates with a closed shift",
        [
            p("entree", "2026-11-02T08:00"),
            p("sortie", "2026-11-02T12:00"),
            p("entree", "2026-11-02T13:00"),
            p("sortie", "2026-11-02T17:00"),
            p("entree", "2026-11-03T08:00"),
            p("sortie", "2026-11-03T09:00"),
            p("sortie", "2026-11-04T09:00"),
        ],
        [(NOV, 540, 2, 7, 1)],
    ),
    Rule(
        "minutes are the month's seconds summed, then rounded down",
        [
            p("entree", "2026-11-02T08:00:00"),
            p("sortie", "2026-11-02T08:00:40"),
            p("entree", "2026-11-03T08:00:00"),
            p("sortie", "2026-11-03T08:00:40"),
        ],
        [(NOV, 1, 2, 4, 0)],
    ),
    Rule(
        "at one instant a sortie closes before an entree opens",
        [
            p("entree", "2026-11-30T08:00"),
            p("entree", "2026-11-30T12:00"),
            p("sortie", "2026-11-30T12:00"),
            p("sortie", "2026-11-30T16:00"),
        ],
        [(NOV, 480, 1, 4, 0)],
    ),
    Rule(
        "a punch in no shift belongs to its own local date",
        [
            p("sortie", "2026-10-31T23:30"),
            p("debut_pause", "2026-11-01T00:10"),
        ],
        [(date(2026, 10, 1), 0, 0, 1, 1), (NOV, 0, 0, 1, 0)],
    ),
]


@pytest.fixture(scope="module")
def punches_db(database_url: str) -> Iterator[PunchDatabase]:
    with PunchDatabase(database_url) as db:
        db.execute(schema_sql())
        yield db


def by_model(punches: list[Punch]) -> list[Month]:
    return [_month(s) for s in monthly_summaries(punches)]


def _month(s: MonthSummary) -> Month:
    return (s.mois, s.minutes_travaillees, s.jours_travailles, s.nb_pointages, s.nb_anomalies)


@pytest.fixture(params=["model", "database"])
def summarize(request: pytest.FixtureRequest) -> Summarize:
    if request.param == "model":
        return by_model
    db: PunchDatabase = request.getfixturevalue("punches_db")

    def by_database(punches: list[Punch]) -> list[Month]:
        user = f"rule-{uuid.uuid4()}"
        db.insert(replace(x, timemoto_user_id=user) for x in reversed(punches))
        return [_month(s) for s in db.summaries([user])]

    return by_database


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_rule(rule: Rule, summarize: Summarize) -> None:
    assert summarize(rule.punches) == rule.expected


def test_users_are_counted_apart() -> None:
    punches = [
        punch("a", "entree", "2026-11-30T08:00"),
        punch("b", "entree", "2026-11-30T09:00"),
        punch("a", "sortie", "2026-11-30T10:00"),
        punch("b", "sortie", "2026-11-30T10:00"),
    ]
    assert [(s.timemoto_user_id, s.minutes_travaillees) for s in monthly_summaries(punches)] == [
        ("a", 120),
        ("b", 60),
    ]


def _months(db: PunchDatabase, user: str) -> list[Month]:
    return [_month(s) for s in db.summaries([user])]


def test_a_deleted_punch_no_longer_counts(punches_db: PunchDatabase) -> None:
    user = f"del-{uuid.uuid4()}"
    extra = punch(user, "entree", "2026-11-30T09:00")
    punches_db.insert(
        [
            punch(user, "entree", "2026-11-30T08:00"),
            extra,
            punch(user, "sortie", "2026-11-30T17:00"),
        ]
    )
    assert _months(punches_db, user) == [(NOV, 480, 1, 3, 1)]
    punches_db.execute("DELETE FROM pointage_horodatage WHERE event_id = $1", extra.event_id)
    assert _months(punches_db, user) == [(NOV, 540, 1, 2, 0)]


def test_an_updated_punch_moves_its_time(punches_db: PunchDatabase) -> None:
    user = f"upd-{uuid.uuid4()}"
    sortie = punch(user, "sortie", "2026-11-30T17:00")
    punches_db.insert([punch(user, "entree", "2026-11-30T08:00"), sortie])
    punches_db.execute(
        "UPDATE pointage_horodatage SET horodatage = horodatage - interval '1 hour'"
        " WHERE event_id = $1",
        sortie.event_id,
    )
    assert _months(punches_db, user) == [(NOV, 480, 1, 2, 0)]
    punches_db.execute(
        "UPDATE pointage_horodatage SET ignore = true WHERE event_id = $1", sortie.event_id
    )
    assert _months(punches_db, user) == [(NOV, 0, 0, 1, 0)]
    punches_db.execute(
        "UPDATE pointage_horodatage SET type_pointage = 'entree' WHERE event_id = $1",
        sortie.event_id,
    )
    punches_db.execute(
        "UPDATE pointage_horodatage SET ignore = false WHERE event_id = $1", sortie.event_id
    )
    assert _months(punches_db, user) == [(NOV, 0, 0, 2, 1)]


def test_temps_travaille_mois_is_the_most_recent_month(punches_db: PunchDatabase) -> None:
    user = f"map-{uuid.uuid4()}"
    punches_db.insert(
        [
            punch(user, "entree", "2026-10-30T08:00"),
            punch(user, "sortie", "2026-10-30T18:00"),
            punch(user, "entree", "2026-11-02T08:00"),
            punch(user, "sortie", "2026-11-02T09:30"),
        ]
    )
    # Mapped later: the past punches and months follow the employee.
    punches_db.execute("INSERT INTO equipe (nom, timemoto_user_id) VALUES ('Ben Salah', $1)", user)
    employee = punches_db.fetch(
        "SELECT id, minutes_travaillees_mois, temps_travaille_mois FROM equipe"
        " WHERE timemoto_user_id = $1",
        user,
    )[0]
    assert employee["minutes_travaillees_mois"] == 90
    assert employee["temps_travaille_mois"] == Decimal("1.50")  # hours, as the ERP reads them
    attached = punches_db.fetch(
        "SELECT (SELECT count(*) FROM pointage_horodatage"
        "         WHERE timemoto_user_id = $1 AND equipe_id = $2),"
        " (SELECT count(*) FROM pointage_resume_mensuel"
        "   WHERE timemoto_user_id = $1 AND equipe_id = $2)",
        user,
        employee["id"],
    )[0]
    assert tuple(attached) == (4, 2)
    # ... and so do the ERP's rows: its days and months appear.
    erp = "SELECT date, heures_travaillees, present FROM pointage WHERE user_id = $1 ORDER BY date"
    assert [tuple(r) for r in punches_db.fetch(erp, employee["id"])] == [
        (date(2026, 10, 30), Decimal("10.00"), True),
        (date(2026, 11, 2), Decimal("1.50"), True),
    ]
    months = "SELECT mois, total_heures FROM pointage_resume WHERE user_id = $1 ORDER BY mois"
    assert [tuple(r) for r in punches_db.fetch(months, employee["id"])] == [
        ("2026-10", Decimal("10.00")),
        ("2026-11", Decimal("1.50")),
    ]
    # A later punch keeps it right.
    punches_db.insert([punch(user, "sortie", "2026-11-02T10:00")])
    punches_db.execute(
        "DELETE FROM pointage_horodatage WHERE timemoto_user_id = $1 AND horodatage = $2",
        user,
        punch(user, "sortie", "2026-11-02T09:30").horodatage,
    )
    figures = punches_db.fetch(
        "SELECT minutes_travaillees_mois, temps_travaille_mois FROM equipe WHERE id = $1",
        employee["id"],
    )[0]
    assert tuple(figures) == (120, Decimal("2.00"))
    # Unmapped: the punches are detached, and the employee has no TimeMoto time any more.
    punches_db.execute("UPDATE equipe SET timemoto_user_id = NULL WHERE id = $1", employee["id"])
    detached = punches_db.fetch(
        "SELECT (SELECT count(*) FROM pointage_horodatage"
        "         WHERE timemoto_user_id = $1 AND equipe_id IS NULL),"
        " (SELECT minutes_travaillees_mois FROM equipe WHERE id = $2),"
        " (SELECT temps_travaille_mois FROM equipe WHERE id = $2)",
        user,
        employee["id"],
    )[0]
    assert tuple(detached) == (4, 0, 0)
    assert punches_db.fetch(erp, employee["id"]) == []
    assert punches_db.fetch(months, employee["id"]) == []


def test_a_day_in_one_statement_gives_the_erp_its_first_entree_and_last_sortie(
    punches_db: PunchDatabase,
) -> None:
    """A whole day of a mapped employee in one multi-row statement, in order (a group commit's
    batch of usual punches): its ERP row, as one punch at a time would leave it."""
    user = f"jour-{uuid.uuid4()}"
    employee = punches_db.fetch(
        "INSERT INTO equipe (nom, timemoto_user_id) VALUES ('Sassi', $1) RETURNING id", user
    )[0]["id"]
    day = [
        punch(user, "entree", "2026-11-03T07:58"),
        punch(user, "debut_pause", "2026-11-03T10:00"),
        punch(user, "fin_pause", "2026-11-03T10:15"),
        punch(user, "sortie", "2026-11-03T12:00"),
        punch(user, "entree", "2026-11-03T13:00"),
        punch(user, "sortie", "2026-11-03T17:31"),
    ]
    punches_db.insert_batches(day, [len(day)])
    rows = punches_db.fetch(
        "SELECT date, check_in, check_out, heures_travaillees, present FROM pointage"
        " WHERE user_id = $1",
        employee,
    )
    assert [tuple(r) for r in rows] == [
        (
            date(2026, 11, 3),
            datetime(2026, 11, 3, 7, 58),
            datetime(2026, 11, 3, 17, 31),
            Decimal("8.30"),  # 3 h 47 + 4 h 31 = 498 minutes
            True,
        )
    ]


def test_punches_stored_by_an_older_version_are_counted_when_the_schema_is_applied(
    punches_db: PunchDatabase,
) -> None:
    user = f"old-{uuid.uuid4()}"
    punches = [
        punch(user, "entree", "2026-01-31T22:00"),
        punch(user, "sortie", "2026-02-01T06:00"),
        punch(user, "sortie", "2026-02-02T06:00"),
    ]
    punches_db.insert(punches)
    # As an older version left them: no attribution, months counted its own way.
    punches_db.execute(
        "UPDATE pointage_horodatage SET jour_rattache = NULL WHERE timemoto_user_id = $1", user
    )
    punches_db.execute(
        "UPDATE pointage_resume_mensuel SET minutes_travaillees = 1, nb_pointages = 9"
        " WHERE timemoto_user_id = $1",
        user,
    )
    punches_db.execute(schema_sql())
    assert punches_db.summaries([user]) == monthly_summaries(punches)
    assert _months(punches_db, user) == [
        (date(2026, 1, 1), 480, 1, 2, 0),
        (date(2026, 2, 1), 0, 0, 1, 1),
    ]
