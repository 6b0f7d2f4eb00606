"""`attendance.updated` / `attendance.deleted`: applied to the one punch they name, else kept
visible as unapplied with the reason. The matching rules alone, then over real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from conftest import WEBHOOK_SECRET
from service.domain.corrections import Candidate, ClockingRef, Match, Unapplied, clocking_ref, match
from service.domain.signature import sign
from simulator.harness import Database, ServiceProcess
from tests.support.samples import sample_delivery

PATH = "/api/webhooks/timemoto/pointage"

REF = ClockingRef("u", "2026-11-30T06:58:43.1274410Z", -17)


def test_time_inserted_names_the_clocking_even_when_the_hash_changed() -> None:
    candidates = [Candidate(1, "2026-11-30T06:58:43.1274410Z", 5), Candidate(2, "other", 6)]
    assert match(REF, candidates) == Match(1)


def test_record_hash_decides_when_time_inserted_finds_nothing() -> None:
    assert match(REF, [Candidate(3, "other", -17)]) == Match(3)


def test_two_keys_naming_two_punches_are_not_guessed_between() -> None:
    candidates = [Candidate(1, REF.time_inserted, 5), Candidate(2, "other", -17)]
    assert isinstance(match(REF, candidates), Unapplied)


def test_several_punches_with_one_time_inserted_are_narrowed_by_the_hash_or_left() -> None:
    twins = [Candidate(1, REF.time_inserted, 5), Candidate(2, REF.time_inserted, -17)]
    assert match(REF, twins) == Match(2)
    ambiguous = [Candidate(1, REF.time_inserted, 5), Candidate(2, REF.time_inserted, 6)]
    assert match(REF, ambiguous) == Unapplied(
        "2 stored punches of this user share this `timeInserted`"
    )


def test_nothing_found_is_unapplied() -> None:
    assert isinstance(match(REF, []), Unapplied)


def test_a_correction_without_user_or_keys_names_nothing() -> None:
    assert isinstance(clocking_ref({"data": {"timeInserted": "x"}}), Unapplied)
    assert isinstance(clocking_ref({"data": {"userId": "u"}}), Unapplied)
    assert clocking_ref({"data": {"userId": "u", "recordHash": 4}}) == ClockingRef("u", None, 4)


# Over HTTP, on the real service and database.


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


def post(service: ServiceProcess, document: dict[str, Any]) -> str:
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, WEBHOOK_SECRET)}
    response = httpx.post(f"{service.base_url}{PATH}", content=body, headers=headers, timeout=10)
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
    service: ServiceProcess, database: Database
) -> None:
    user = str(uuid.uuid4())
    entree = clocking(
        "attendance.inserted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    sortie = clocking(
        "attendance.inserted", user, 1, "2026-11-30T16:00:00", "2026-11-30T15:00:02.2Z", 22
    )
    assert post(service, entree) == post(service, sortie) == "stored"
    assert month(database, user) == (480, 2, 0)

    # The sortie moved to 17:00: same timeInserted, a new recordHash.
    moved = clocking(
        "attendance.updated", user, 1, "2026-11-30T17:00:00", "2026-11-30T15:00:02.2Z", 23
    )
    assert post(service, moved) == "applied"  # CONTRACT §1: applied to exactly one punch
    assert outcome(database, moved["id"])[0] == "applique"
    assert month(database, user) == (540, 2, 0)
    assert post(service, moved) == "duplicate"  # delivered again: applied once
    assert month(database, user) == (540, 2, 0)

    deleted = clocking(
        "attendance.deleted", user, 0, "2026-11-30T08:00:00", "2026-11-30T07:00:01.1Z", 11
    )
    assert post(service, deleted) == "applied"
    assert outcome(database, deleted["id"])[0] == "applique"
    assert month(database, user) == (0, 1, 1)  # the sortie is left alone: an anomaly

    unknown = clocking(
        "attendance.deleted", user, 0, "2026-11-29T08:00:00", "2026-11-29T07:00:00Z", 99
    )
    assert post(service, unknown) == "ignored"
    statut, motif = outcome(database, unknown["id"])
    assert statut == "non_applique"
    assert motif and "no stored punch" in motif
    assert month(database, user) == (0, 1, 1)


def test_a_correction_that_came_before_its_punch_is_applied_when_the_punch_arrives(
    service: ServiceProcess, database: Database
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
    assert post(service, entree) == "stored"
    assert post(service, moved) == "ignored"
    assert outcome(database, moved["id"])[0] == "non_applique"
    assert post(service, sortie) == "stored"
    assert outcome(database, moved["id"]) == ("applique", None)
    assert month(database, user) == (540, 2, 0)  # 08:00 to 17:00, as corrected
