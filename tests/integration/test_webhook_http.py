"""Every answer of docs/contract.md §1 that does not need a failing database, over HTTP to the
application in this process."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.domain.signature import sign
from tests.support.databases import Database
from tests.support.webhook import SECRET, WEBHOOK, a_delivery, post


def test_a_new_punch_is_stored(client: httpx.Client, database: Database) -> None:
    document = a_delivery()
    response = post(client, json.dumps(document).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "stored", "event_id": document["id"]}
    row = database.fetch("SELECT * FROM pointage_horodatage WHERE event_id = $1", document["id"])[0]
    assert row["type_pointage"] == "entree"
    assert row["timemoto_user_id"] == document["data"]["userId"]
    assert row["fuseau_horaire"] == "Africa/Tunis"
    assert str(row["date_travail"]) == "2026-11-30"
    assert json.loads(row["payload"]) == document


def test_the_raw_body_is_what_is_signed(client: httpx.Client, database: Database) -> None:
    """Whitespace and key order are the sender's: the signature covers the bytes as sent."""
    document = a_delivery()
    body = json.dumps(document, indent=4, sort_keys=True).encode()
    assert post(client, body).json()["status"] == "stored"


def test_record_hash_is_stored_exactly(client: httpx.Client, database: Database) -> None:
    document = a_delivery()
    document["data"]["recordHash"] = -9223372036854775807
    assert post(client, json.dumps(document).encode()).status_code == 200
    stored = database.value(
        "SELECT payload->'data'->>'recordHash' FROM pointage_horodatage WHERE event_id = $1",
        document["id"],
    )
    assert stored == "-9223372036854775807"


def test_the_same_id_again_is_a_duplicate(client: httpx.Client, database: Database) -> None:
    body = json.dumps(a_delivery()).encode()
    assert post(client, body).json()["status"] == "stored"
    again = post(client, body)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    event_id = json.loads(body)["id"]
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", event_id)
        == 1
    )


def test_concurrent_deliveries_of_one_id_store_one_row(
    client: httpx.Client, database: Database
) -> None:
    body = json.dumps(a_delivery()).encode()
    with ThreadPoolExecutor(8) as pool:
        answers = [r.json()["status"] for r in pool.map(lambda _: post(client, body), range(8))]
    assert sorted(answers) == ["duplicate"] * 7 + ["stored"]
    event_id = json.loads(body)["id"]
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", event_id)
        == 1
    )


@pytest.mark.parametrize("event", ["user.updated", "webhook.test", "attendance.updated"])
def test_other_events_are_ignored_but_kept(
    client: httpx.Client, database: Database, event: str
) -> None:
    document = a_delivery(event=event)
    response = post(client, json.dumps(document).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "event_id": document["id"]}
    assert (
        database.value(
            "SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", document["id"]
        )
        == 0
    )
    kept = database.fetch(
        "SELECT event FROM pointage_evenement WHERE event_id = $1", document["id"]
    )
    assert [row["event"] for row in kept] == [event]


@pytest.mark.parametrize(
    "signature", [None, "", "0" * 64, "sha256=deadbeef", sign(b"other body", SECRET)]
)
def test_a_missing_or_wrong_signature_is_401(
    client: httpx.Client, database: Database, signature: str | None
) -> None:
    document = a_delivery()
    response = post(client, json.dumps(document).encode(), signature=signature)
    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert "event_id" not in response.json()  # a forged body is not read (docs/contract.md §1)
    assert (
        database.value(
            "SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", document["id"]
        )
        == 0
    )


def test_every_secret_of_a_rotation_is_accepted(client: httpx.Client) -> None:
    body = json.dumps(a_delivery()).encode()
    assert post(client, body, signature=sign(body, "old-secret")).json()["status"] == "stored"


def test_a_body_that_is_not_json_is_400(client: httpx.Client) -> None:
    response = post(client, b"id=tm_1&event=attendance.inserted")
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "JSON" in response.json()["reason"]


def test_a_signed_invalid_event_is_422_with_the_reason(
    client: httpx.Client, database: Database
) -> None:
    document = a_delivery()
    document["data"]["timeZone"] = "Mars/Olympus"
    response = post(client, json.dumps(document).encode())
    assert response.status_code == 422
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["event_id"] == document["id"]
    assert "timeZone" in answer["reason"]
    assert (
        database.value(
            "SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", document["id"]
        )
        == 0
    )


def test_a_body_over_256_kib_is_413(client: httpx.Client) -> None:
    document = a_delivery()
    document["data"]["comment"] = "x" * (256 * 1024)
    response = post(client, json.dumps(document).encode())
    assert response.status_code == 413
    assert response.json()["status"] == "error"


def test_a_body_just_under_the_limit_is_accepted(client: httpx.Client) -> None:
    document = a_delivery()
    document["data"]["comment"] = ""
    room = 256 * 1024 - len(json.dumps(document).encode())
    document["data"]["comment"] = "x" * room
    body = json.dumps(document).encode()
    assert len(body) == 256 * 1024
    assert post(client, body).json()["status"] == "stored"


def test_unknown_routes_and_methods_answer_json(client: httpx.Client) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    wrong_method = client.get(WEBHOOK)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == "error"
