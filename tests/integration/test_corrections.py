"""`attendance.updated` / `attendance.deleted` over HTTP, on the service and a real database:
applied to the one punch they name, else kept visible as unapplied with the reason (the
matching rules alone are in unit/test_correction_matching.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from service.domain.signature import sign
from tests.support.databases import Database
from tests.support.samples import sample_delivery
from tests.support.service import InProcessService, wait_until
from tests.support.webhook import SECRET, WEBHOOK, encode, post


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
        "SELECT minutes_travaillees, nb_pointages, nb_anomalies FROM pointage_resume_mensuel"
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
    assert answer(client, moved) == "applied"  # docs/contract.md §1: applied to exactly one punch
    assert outcome(database, moved["id"])[0] == "applique"
    assert month(database, user) == (540, 2, 0)
    assert answer(client, moved) == "duplicate"  # delivered again: applied once
    assert month(database, user) == (540, 2, 0)

    deleted = clocking(
        "attendance.deleted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    assert answer(client, deleted) == "applied"
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


# Idempotency that survives corrections (docs/contract.md §1: same `id` again, no new row; §3: any
# order of arrival gives the same result).


def test_a_deleted_punch_sent_again_stays_deleted(client: httpx.Client, database: Database) -> None:
    user = str(uuid.uuid4())
    entree = clocking(
        "attendance.inserted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    sortie = clocking(
        "attendance.inserted", user, 1, "2026-11-30T17:00:00", "2026-11-30T16:00:02.2Z", 22
    )
    assert answer(client, entree) == answer(client, sortie) == "stored"
    assert month(database, user) == (540, 2, 0)
    deleted = clocking(
        "attendance.deleted", user, 1, "2026-11-30T17:00:00", "2026-11-30T16:00:02.2Z", 22
    )
    assert answer(client, deleted) == "applied"
    assert month(database, user) == (0, 1, 0)
    assert answer(client, sortie) == "duplicate"  # TimeMoto re-sends: it must not come back
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", sortie["id"])
        == 0
    )
    assert month(database, user) == (0, 1, 0)


def test_a_delete_before_its_punch_then_the_punch_again(
    client: httpx.Client, database: Database
) -> None:
    user = str(uuid.uuid4())
    sortie = clocking(
        "attendance.inserted", user, 1, "2026-11-30T17:00:00", "2026-11-30T16:00:02.2Z", 22
    )
    deleted = clocking(
        "attendance.deleted", user, 1, "2026-11-30T17:00:00", "2026-11-30T16:00:02.2Z", 22
    )
    assert answer(client, deleted) == "ignored"  # nothing to apply it to yet: kept, waiting
    assert answer(client, sortie) == "stored"  # stored, then the waiting delete applies
    assert outcome(database, deleted["id"])[0] == "applique"
    assert answer(client, sortie) == "duplicate"
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id = $1", user)
        == 0
    )


def test_punches_and_their_deletes_sent_together_end_deleted(
    service: InProcessService, database: Database
) -> None:
    """200 pairs, each punch and its delete at the same time: as if one came after the other."""
    user = str(uuid.uuid4())
    pairs = []
    for i in range(200):
        logged = f"2026-11-{1 + i // 10:02d}T{8 + i % 10:02d}:00:00"
        inserted = f"2026-11-{1 + i // 10:02d}T{7 + i % 10:02d}:00:00.{i:07d}Z"
        punch = clocking("attendance.inserted", user, i % 2, logged, inserted, 1000 + i)
        delete = clocking("attendance.deleted", user, i % 2, logged, inserted, 1000 + i)
        pairs.append((punch, delete))

    async def send_all() -> None:
        async with service.async_client() as client:

            async def one(document: dict[str, Any]) -> None:
                body = encode(document)
                headers = {"Timemoto-Signature": sign(body, SECRET)}
                response = await client.post(WEBHOOK, content=body, headers=headers)
                # 400 at once may exhaust the pool: some are queued, and drained soon after.
                assert response.status_code in (200, 202), response.text

            await asyncio.gather(*(one(d) for pair in pairs for d in pair))

    asyncio.run(send_all())

    def outcomes() -> dict[str, int]:
        statuts = database.fetch(
            "SELECT statut, count(*) FROM pointage_evenement"
            " WHERE payload->'data'->>'userId' = $1 GROUP BY statut",
            user,
        )
        return {row["statut"]: row["count"] for row in statuts}

    assert wait_until(lambda: outcomes() == {"applique": 200}, 60), outcomes()
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id = $1", user)
        == 0
    )
    assert month(database, user) is None  # no punch left: no month


def test_equipe_id_follows_the_rows_own_user(client: httpx.Client, database: Database) -> None:
    first, second, unmapped = (str(uuid.uuid4()) for _ in range(3))
    database.execute(
        "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ('A', 'a', $1), ('B', 'b', $2)",
        first,
        second,
    )
    entree = clocking(
        "attendance.inserted", first, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    assert answer(client, entree) == "stored"
    team = {
        row["timemoto_user_id"]: row["id"]
        for row in database.fetch("SELECT id, timemoto_user_id FROM equipe")
    }

    def equipe_of_punch() -> int | None:
        value = database.value(
            "SELECT equipe_id FROM pointage_horodatage WHERE event_id = $1", entree["id"]
        )
        return None if value is None else int(value)

    assert equipe_of_punch() == team[first]
    database.execute(
        "UPDATE pointage_horodatage SET timemoto_user_id = $1 WHERE event_id = $2",
        second,
        entree["id"],
    )
    assert equipe_of_punch() == team[second]
    database.execute(
        "UPDATE pointage_horodatage SET timemoto_user_id = $1 WHERE event_id = $2",
        unmapped,
        entree["id"],
    )
    assert equipe_of_punch() is None
