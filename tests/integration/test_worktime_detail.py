"""docs/contract.md §7, by example: the anomaly reason of each punch (`pointage.motif_anomalie`) and
the day rows (`v_pointage_jour`), from the reference model and from the database alike. The random
histories of tests/integration/test_worktime_properties.py hold the two to each other beyond these
examples.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from service.db.schema import schema_sql
from service.domain.delivery import Punch
from simulator.worktime_model import DaySummary, attributed, daily_summaries
from tests.support.worktime import PunchDatabase, punch


@pytest.fixture(scope="module")
def punches_db(database_url: str) -> Iterator[PunchDatabase]:
    with PunchDatabase(database_url) as db:
        db.execute(schema_sql())
        yield db


def both(db: PunchDatabase, punches: list[Punch]) -> tuple[list[DaySummary], list[DaySummary]]:
    """The model's day rows and the database's, the punches delivered in reverse order."""
    db.insert(reversed(punches))
    return daily_summaries(punches), db.days([punches[0].timemoto_user_id])


def reasons(db: PunchDatabase, punches: list[Punch]) -> tuple[list[str | None], list[str | None]]:
    """The reasons of the punches in the given order: the model's, the database's."""
    db.insert(reversed(punches))
    model = {p.event_id: a.motif_anomalie for p, a in attributed(punches)}
    stored = db.reasons([punches[0].timemoto_user_id])
    return [model[p.event_id] for p in punches], [stored[p.event_id][0] for p in punches]


def user() -> str:
    return f"jour-{uuid.uuid4()}"


def test_a_night_shift_with_a_break_is_one_row_on_its_entree_date(
    punches_db: PunchDatabase,
) -> None:
    u = user()
    model, stored = both(
        punches_db,
        [
            punch(u, "entree", "2026-01-31T22:00"),
            punch(u, "debut_pause", "2026-02-01T01:00"),
            punch(u, "fin_pause", "2026-02-01T01:30:59"),
            punch(u, "sortie", "2026-02-01T06:00"),
        ],
    )
    expected = [
        DaySummary(
            u,
            date(2026, 1, 31),
            premiere_entree=datetime(2026, 1, 31, 22, 0),
            derniere_sortie=datetime(2026, 2, 1, 6, 0),
            minutes_pause=30,
            minutes_travaillees=449,
            nb_pointages=4,
            nb_anomalies=0,
        )
    ]
    assert model == expected
    assert stored == expected


def test_local_times_and_elapsed_minutes_across_a_dst_change(punches_db: PunchDatabase) -> None:
    u = user()
    model, stored = both(
        punches_db,
        [
            punch(u, "entree", "2026-03-28T22:00", "Europe/Paris"),
            punch(u, "sortie", "2026-03-29T06:00", "Europe/Paris"),
        ],
    )
    expected = [
        DaySummary(
            u,
            date(2026, 3, 28),
            datetime(2026, 3, 28, 22, 0),
            datetime(2026, 3, 29, 6, 0),
            minutes_pause=0,
            minutes_travaillees=420,
            nb_pointages=2,
            nb_anomalies=0,
        )
    ]
    assert model == expected
    assert stored == expected


def test_two_shifts_of_a_day_sum_their_seconds_before_rounding(punches_db: PunchDatabase) -> None:
    u = user()
    model, stored = both(
        punches_db,
        [
            punch(u, "entree", "2026-11-30T08:00:00"),
            punch(u, "sortie", "2026-11-30T08:00:40"),
            punch(u, "entree", "2026-11-30T09:00:00"),
            punch(u, "sortie", "2026-11-30T09:00:40"),
        ],
    )
    assert model == stored
    assert [(d.premiere_entree, d.derniere_sortie, d.minutes_travaillees) for d in stored] == [
        (datetime(2026, 11, 30, 8, 0), datetime(2026, 11, 30, 9, 0, 40), 1)
    ]


def test_anomalies_count_on_their_own_dates(punches_db: PunchDatabase) -> None:
    u = user()
    model, stored = both(
        punches_db,
        [
            punch(u, "sortie", "2026-11-29T23:30"),  # no shift open
            punch(u, "entree", "2026-11-30T07:00"),  # another entree follows: repeated
            punch(u, "entree", "2026-11-30T08:00"),
            punch(u, "sortie", "2026-11-30T16:00"),
        ],
    )
    assert model == stored
    assert [(d.date_travail, d.nb_pointages, d.nb_anomalies) for d in stored] == [
        (date(2026, 11, 29), 1, 1),
        (date(2026, 11, 30), 3, 1),
    ]
    assert stored[1].premiere_entree == datetime(2026, 11, 30, 7, 0)  # anomalous ones included


def test_each_anomaly_says_why(punches_db: PunchDatabase) -> None:
    u = user()
    model, stored = reasons(
        punches_db,
        [
            punch(u, "entree", "2026-11-02T07:00"),
            punch(u, "entree", "2026-11-02T08:00"),
            punch(u, "sortie", "2026-11-02T16:00"),
            punch(u, "sortie", "2026-11-02T17:00"),
            punch(u, "entree", "2026-11-03T08:00"),
            punch(u, "sortie", "2026-11-04T08:01"),
            punch(u, "entree", "2026-11-05T08:00"),  # open: no anomaly yet
        ],
    )
    expected = ["entree_repetee", None, None, "sortie_sans_poste"]
    expected += ["poste_trop_long", "poste_trop_long", None]
    assert model == expected
    assert stored == expected


def test_a_later_punch_changes_the_reasons_it_should(punches_db: PunchDatabase) -> None:
    u = user()
    punches = [punch(u, "entree", "2026-11-02T08:00"), punch(u, "sortie", "2026-11-03T09:00")]
    assert reasons(punches_db, punches)[1] == ["poste_trop_long", "poste_trop_long"]
    later = punch(u, "entree", "2026-11-02T20:00")  # now the sortie closes this one
    model, stored = reasons(punches_db, [*punches, later])
    assert model == stored == ["entree_repetee", None, None]
