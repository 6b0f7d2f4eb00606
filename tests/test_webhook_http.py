"""Every answer of CONTRACT §1 that does not need a failing database, over real HTTP."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from conftest import WEBHOOK_SECRET
from service.domain.signature import sign
from simulator.harness import Database, ServiceProcess
from tests.support.samples import sample_delivery

PATH = "/api/webhooks/timemoto/pointage"


def delivery(**changes: Any) -> dict[str, Any]:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document.update(changes)
    return document


def post(service: ServiceProcess, body: bytes, signature: str | None = "sign") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(body, WEBHOOK_SECRET)
    if signature is not None:
        headers["Timemoto-Signature"] = signature
    return httpx.post(f"{service.base_url}{PATH}", content=body, headers=headers, timeout=10)


def test_a_new_punch_is_stored(service: ServiceProcess, database: Database) -> None:
    document = delivery()
    response = post(service, json.dumps(document).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "stored", "event_id": document["id"]}
    row = database.fetch("SELECT * FROM pointage WHERE event_id = $1", document["id"])[0]
    assert row["type_pointage"] == "entree"
    assert row["timemoto_user_id"] == document["data"]["userId"]
    assert row["fuseau_horaire"] == "Africa/Tunis"
    assert str(row["date_travail"]) == "2026-11-30"
    assert json.loads(row["payload"]) == document


def test_the_raw_body_is_what_is_signed(service: ServiceProcess, database: Database) -> None:
    """Whitespace and key order are the sender's: the signature covers the bytes as sent."""
    document = delivery()
    body = json.dumps(document, indent=4, sort_keys=True).encode()
    assert post(service, body).json()["status"] == "stored"


def test_record_hash_is_stored_exactly(service: ServiceProcess, database: Database) -> None:
    document = delivery()
    document["data"]["recordHash"] = -9223372036854775807
    assert post(service, json.dumps(document).encode()).status_code == 200
    stored = database.value(
        "SELECT payload->'data'->>'recordHash' FROM pointage WHERE event_id = $1", document["id"]
    )
    assert stored == "-9223372036854775807"


def test_the_same_id_again_is_a_duplicate(service: ServiceProcess, database: Database) -> None:
    body = json.dumps(delivery()).encode()
    assert post(service, body).json()["status"] == "stored"
    again = post(service, body)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    event_id = json.loads(body)["id"]
    assert database.value("SELECT count(*) FROM pointage WHERE event_id = $1", event_id) == 1


def test_concurrent_deliveries_of_one_id_store_one_row(
    service: ServiceProcess, database: Database
) -> None:
    body = json.dumps(delivery()).encode()
    with ThreadPoolExecutor(8) as pool:
        answers = [r.json()["status"] for r in pool.map(lambda _: post(service, body), range(8))]
    assert sorted(answers) == ["duplicate"] * 7 + ["stored"]
    event_id = json.loads(body)["id"]
    assert database.value("SELECT count(*) FROM pointage WHERE event_id = $1", event_id) == 1


@pytest.mark.parametrize("event", ["user.updated", "webhook.test", "attendance.updated"])
def test_other_events_are_ignored_but_kept(
    service: ServiceProcess, database: Database, event: str
) -> None:
    document = delivery(event=event)
    response = post(service, json.dumps(document).encode())
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "event_id": document["id"]}
    assert database.value("SELECT count(*) FROM pointage WHERE event_id = $1", document["id"]) == 0
    kept = database.fetch(
        "SELECT event FROM pointage_evenement WHERE event_id = $1", document["id"]
    )
    assert [row["event"] for row in kept] == [event]


@pytest.mark.parametrize(
    "signature", [None, "", "0" * 64, "sha256=deadbeef", sign(b"other body", WEBHOOK_SECRET)]
)
def test_a_missing_or_wrong_signature_is_401(
    service: ServiceProcess, database: Database, signature: str | None
) -> None:
    document = delivery()
    response = post(service, json.dumps(document).encode(), signature=signature)
    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert "event_id" not in response.json()  # a forged body is not read (CONTRACT §1)
    assert database.value("SELECT count(*) FROM pointage WHERE event_id = $1", document["id"]) == 0


def test_every_secret_of_a_rotation_is_accepted(service: ServiceProcess) -> None:
    body = json.dumps(delivery()).encode()
    assert post(service, body, signature=sign(body, "old-secret")).json()["status"] == "stored"


def test_a_body_that_is_not_json_is_400(service: ServiceProcess) -> None:
    response = post(service, b"id=tm_1&event=attendance.inserted")
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert "JSON" in response.json()["reason"]


def test_a_signed_invalid_event_is_422_with_the_reason(
    service: ServiceProcess, database: Database
) -> None:
    document = delivery()
    document["data"]["timeZone"] = "Mars/Olympus"
    response = post(service, json.dumps(document).encode())
    assert response.status_code == 422
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["event_id"] == document["id"]
    assert "timeZone" in answer["reason"]
    assert database.value("SELECT count(*) FROM pointage WHERE event_id = $1", document["id"]) == 0


def test_a_body_over_256_kib_is_413(service: ServiceProcess) -> None:
    document = delivery()
    document["data"]["comment"] = "x" * (256 * 1024)
    response = post(service, json.dumps(document).encode())
    assert response.status_code == 413
    assert response.json()["status"] == "error"


def test_a_body_just_under_the_limit_is_accepted(service: ServiceProcess) -> None:
    document = delivery()
    document["data"]["comment"] = ""
    room = 256 * 1024 - len(json.dumps(document).encode())
    document["data"]["comment"] = "x" * room
    body = json.dumps(document).encode()
    assert len(body) == 256 * 1024
    assert post(service, body).json()["status"] == "stored"


def test_unknown_routes_and_methods_answer_json(service: ServiceProcess) -> None:
    missing = httpx.get(f"{service.base_url}/nowhere")
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    wrong_method = httpx.get(f"{service.base_url}{PATH}")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == "error"
