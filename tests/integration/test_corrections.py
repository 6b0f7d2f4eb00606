"""`attendance.updated` / `attendance.deleted` over HTTP, on the service and a real database:
applied to the one punch they name, else kept visible as unapplied with the reason (the
matching rules alone are in unit/test_correction_matching.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.databases import Database
from tests.support.samples import sample_delivery
from tests.support.webhook import post


def clocking(
    event: str, user: str, kind: int, logged: str, inserted: str, hash_: int
) -> dict[str, Any]:
    document: dict[str, Any] = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document["event"] = event
    data = document["data"]
    data.update(
        userId=user,
        clockingActionTypeId=kind,
        clockingType="In" if kind == 0 else "Out",
        timeLogged=logged,
        timeLoggedRounded=logged,
        timeInserted=inserted,
        recordHash=hash_,
    )
    return document


def answer(client: httpx.Client, document: dict[str, Any]) -> str:
    response = post(client, document)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def month(database: Database, user: str) -> tuple[int, int, int] | None:
    rows = database.fetch(
        "SELECT minutes_travaillees, nb_pointages, nb_anomalies FROM pointage_resume"
        " WHERE timemoto_user_id = $1",
        user,
    )
    return tuple(rows[0]) if rows else None  # type: ignore[return-value]


def outcome(database: Database, event_id: str) -> tuple[str, str | None]:
    row = database.fetch(
        "SELECT statut, motif FROM pointage_evenement WHERE event_id = $1", event_id
    )[0]
    return row["statut"], row["motif"]


def test_corrections_are_applied_to_the_punch_they_name(
    client: httpx.Client, database: Database
) -> None:
    user = str(uuid.uuid4())
    entree = clocking(
        "attendance.inserted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    sortie = clocking(
        "attendance.inserted", user, 1, "2026-11-30T16:00:00", "2026-11-30T15:00:02.2Z", 22
    )
    assert answer(client, entree) == answer(client, sortie) == "stored"
    assert month(database, user) == (480, 2, 0)

    # The sortie moved to 17:00: same timeInserted, a new recordHash.
    moved = clocking(
        "attendance.updated", user, 1, "2026-11-30T17:00:00", "2026-11-30T15:00:02.2Z", 23
    )
    assert answer(client, moved) == "ignored"
    assert outcome(database, moved["id"])[0] == "applique"
    assert month(database, user) == (540, 2, 0)
    assert answer(client, moved) == "duplicate"  # delivered again: applied once
    assert month(database, user) == (540, 2, 0)

    deleted = clocking(
        "attendance.deleted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    assert answer(client, deleted) == "ignored"
    assert outcome(database, deleted["id"])[0] == "applique"
    assert month(database, user) == (0, 1, 1)  # the sortie is left alone: an anomaly

    unknown = clocking(
        "attendance.deleted", user, 0, "2026-11-29T08:00:00", "2026-11-29T07:00:00Z", 99
    )
    assert answer(client, unknown) == "ignored"
    statut, motif = outcome(database, unknown["id"])
    assert statut == "non_applique"
    assert motif and "no stored punch" in motif
    assert month(database, user) == (0, 1, 1)


def test_a_correction_that_came_before_its_punch_is_applied_when_the_punch_arrives(
    client: httpx.Client, database: Database
) -> None:
    user = str(uuid.uuid4())
    entree = clocking(
        "attendance.inserted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    moved = clocking(  # the sortie moved to 17:00, delivered before the sortie itself
        "attendance.updated", user, 1, "2026-11-30T17:00:00", "2026-11-30T15:00:02.2Z", 23
    )
    sortie = clocking(
        "attendance.inserted", user, 1, "2026-11-30T16:00:00", "2026-11-30T15:00:02.2Z", 22
    )
    assert answer(client, entree) == "stored"
    assert answer(client, moved) == "ignored"
    assert outcome(database, moved["id"])[0] == "non_applique"
    assert answer(client, sortie) == "stored"
    assert outcome(database, moved["id"]) == ("applique", None)
    assert month(database, user) == (540, 2, 0)  # 08:00 to 17:00, as corrected
