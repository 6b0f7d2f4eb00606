"""CONTRACT §7, by example: the anomaly reason of each punch (`pointage.motif_anomalie`), from
the reference model and from the database alike. The random histories of
tests/test_worktime_properties.py hold the two to each other beyond these examples.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from service.payload import Punch
from service.schema import schema_sql
from service.worktime import attributed
from tests.support.worktime import PunchDatabase, punch


@pytest.fixture(scope="module")
def punches_db(database_url: str) -> Iterator[PunchDatabase]:
    with PunchDatabase(database_url) as db:
        db.execute(schema_sql())
        yield db


def reasons(db: PunchDatabase, punches: list[Punch]) -> tuple[list[str | None], list[str | None]]:
    """The reasons of the punches in the given order: the model's, the database's."""
    db.insert(reversed(punches))
    model = {p.event_id: a.motif_anomalie for p, a in attributed(punches)}
    stored = db.reasons([punches[0].timemoto_user_id])
    return [model[p.event_id] for p in punches], [stored[p.event_id][0] for p in punches]


def user() -> str:
    return f"jour-{uuid.uuid4()}"


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
