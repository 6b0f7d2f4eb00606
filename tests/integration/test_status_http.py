"""/status and /api/status in process, on a real PostgreSQL: behind the operators' auth (404 without
ADMIN_PASSWORD, 401 without credentials), every fact of docs/contract.md §6, every value escaped (a
`userFirstName` of `<script>` is text), nothing from another host; and a slow alert receiver that
never delays a delivery."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from litestar.testing import TestClient

from service.app import create_app
from service.domain.signature import sign
from service.http import paths
from service.settings import Settings
from simulator.harness import Database
from tests.support.samples import sample_delivery

SECRET = "status-secret"
PASSWORD = "mot-de-passe-status"
AUTH = ("admin", PASSWORD)
URL = "https://chat.example/hooks/T000/B000/secret-token-XYZ"
HOSTILE = "<script>alert('x')</script>"


def punch(
    user: str, kind: int, local: str, *, first: str, last: str, number: str, location: str
) -> bytes:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    data = document["data"]
    data.update(
        userId=user,
        clockingActionTypeId=kind,
        clockingType=["In", "Out", "BreakStart", "BreakEnd"][kind],
        timeLogged=local,
        timeLoggedRounded=local,
        userFirstName=first,
        userLastName=last,
        userFullName=f"{first} {last}",
        userEmployeeNumber=number,
        locationName=location,
    )
    return json.dumps(document).encode()


def deliver(client: TestClient[Any], body: bytes) -> int:
    headers = {"Timemoto-Signature": sign(body, SECRET), "Content-Type": "application/json"}
    return client.post(paths.WEBHOOK, content=body, headers=headers).status_code


def settings_for(database_url: str, tmp: Path, **more: Any) -> Settings:
    return Settings(
        webhook_secrets=(SECRET,),
        database_url=database_url,
        data_dir=tmp / "data",
        spool_dir=tmp / "spool",
        **more,
    )


@pytest.fixture(scope="module")
def client(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("status")
    with TestClient(create_app(settings_for(database_url, tmp, admin_password=PASSWORD))) as c:
        yield c


@pytest.fixture(scope="module")
def delivered(client: TestClient[Any], database_url: str) -> dict[str, str]:
    """Salma (mapped) with a sortie without shift; a new user with a hostile name, unmapped."""
    database = Database(database_url)
    database.execute(
        "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ('Ben Ali', 'Salma', 'u-salma')"
    )
    database.execute("INSERT INTO equipe (nom, prenom) VALUES ('Trabelsi', 'Nour')")
    today = time.strftime("%Y-%m-%d")
    salma = dict(first="Salma", last="Ben Ali", number="LP-031", location="Atelier Ksar Hellal")
    hostile = dict(first=HOSTILE, last="<b>Gras</b>", number="LP-<i>99</i>", location="Dépôt & Cie")
    nour = dict(first="Nour", last="Trabelsi", number="LP-040", location="Atelier Ksar Hellal")
    bodies = [
        punch("u-salma", 1, f"{today}T07:00:00", **salma),  # sortie with no shift: an anomaly
        punch("u-salma", 0, f"{today}T08:00:00", **salma),
        punch("u-hostile", 0, f"{today}T08:05:00", **hostile),
        punch("u-nour", 0, f"{today}T08:10:00", **nour),
    ]
    assert [deliver(client, body) for body in bodies] == [200, 200, 200, 200]
    forged = client.post(paths.WEBHOOK, content=b"{}", headers={"Timemoto-Signature": "0" * 64})
    assert forged.status_code == 401
    return {"today": today}


def test_without_admin_password_the_pages_do_not_exist(database_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(database_url, tmp_path))) as closed:
        assert closed.get(paths.STATUS, auth=AUTH).status_code == 404
        assert closed.get(paths.API_STATUS, auth=AUTH).status_code == 404


def test_credentials_are_asked_for(client: TestClient[Any]) -> None:
    answer = client.get(paths.STATUS)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert client.get(paths.API_STATUS, auth=("admin", "wrong")).status_code == 401


def test_the_json_has_every_fact(client: TestClient[Any], delivered: dict[str, str]) -> None:
    answer = client.get(paths.API_STATUS, auth=AUTH)
    assert answer.status_code == 200
    facts = answer.json()
    assert facts["database"]["state"] == "up" and facts["database"]["since"]
    assert facts["spool"] == {
        "pending": 0,
        "oldest": None,
        "oldest_pending_s": None,
        "stranded": 0,
        "quarantined": 0,
        "quarantined_24h": 0,
    }
    last = facts["last_delivery"]
    assert last["name"] == "Nour Trabelsi" and last["location"] == "Atelier Ksar Hellal"
    assert last["kind"] == "entree" and last["employee_number"] == "LP-040"
    assert {x["location"] for x in facts["locations"]} == {"Atelier Ksar Hellal", "Dépôt & Cie"}
    assert len(facts["deliveries_per_hour"]) == 48
    assert sum(h["count"] for h in facts["deliveries_per_hour"]) == 4
    assert facts["answers_today"]["counts"] == {"error": 1, "stored": 4}
    assert facts["signature_failures"]["last_24h"] == 1
    unmapped = {u["user_id"]: u for u in facts["unmapped_users"]}
    assert set(unmapped) == {"u-hostile", "u-nour"}
    assert unmapped["u-hostile"]["name"] == f"{HOSTILE} <b>Gras</b>"
    assert unmapped["u-hostile"]["punches"] == 1
    assert unmapped["u-hostile"]["mapping_sql"] == (
        "UPDATE equipe SET timemoto_user_id = 'u-hostile' WHERE id = …;"
    )
    # an equipe row of the same name, not mapped yet, is proposed
    assert re.fullmatch(
        r"UPDATE equipe SET timemoto_user_id = 'u-nour' WHERE id = \d+;",
        unmapped["u-nour"]["mapping_sql"],
    )
    (salma,) = facts["anomalies"]["employees"]
    assert salma["name"] == "Salma Ben Ali" and salma["anomalies"] == 1
    assert salma["reasons"] == {"sortie_sans_poste": 1}
    assert facts["alerts"] == []
    assert facts["alerting"]["webhook"] is False
    assert "secret" not in answer.text.lower()


def test_the_page_is_french_escaped_and_self_contained(
    client: TestClient[Any], delivered: dict[str, str]
) -> None:
    answer = client.get(paths.STATUS, auth=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="fr">' in page
    assert "<script" not in page.lower()  # no script at all, and the hostile name is text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Gras&lt;/b&gt;" in page and "Dépôt &amp; Cie" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing from elsewhere
    assert "<svg" in page and page.count('class="bar') == 48
    for words in (
        "Base de données",
        "disponible",
        "File d'attente locale",  # the spool, in French
        "Dernière livraison reçue",
        "Nour Trabelsi",
        "Dernier pointage par lieu",
        "Livraisons par heure (48 h)",
        "Réponses aujourd'hui",
        "Signatures refusées (24 h)",
        "non rattachés",
        "UPDATE equipe SET timemoto_user_id = &#39;u-hostile&#39; WHERE id = …;",
        "Anomalies de",
        "sortie sans poste",
        "Aucune alerte",
    ):
        assert words in page, words


def test_a_slow_receiver_never_delays_a_delivery(tmp_path: Path, database_url: str) -> None:
    """The chat takes 5 s per message while deliveries arrive and a burst of wrong signatures
    raises an alert: each delivery is still answered in milliseconds."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    settings = settings_for(database_url, tmp_path, alert_webhook_url=URL, admin_password="pw")
    durations = []
    with respx.mock(assert_all_called=False) as chat:
        chat.post(URL).mock(side_effect=slow)
        chat.route(host="testserver.local").pass_through()
        with TestClient(create_app(settings)) as client:
            for _ in range(6):  # a burst of forged deliveries
                client.post(paths.WEBHOOK, content=b"{}", headers={"Timemoto-Signature": "00"})
            # The monitor's loop looks now (in the app's loop): the burst is raised.
            client.blocking_portal.call(client.app.state.runtime.monitor.check)
            status = client.get(paths.API_STATUS, auth=("admin", "pw")).json()
            assert [a["name"] for a in status["alerts"]] == ["signature_failures"]
            for _ in range(20):
                body = json.dumps({**sample_delivery(), "id": f"tm_{uuid.uuid4().hex}"}).encode()
                started = time.perf_counter()
                assert deliver(client, body) == 200
                durations.append(time.perf_counter() - started)
    assert max(durations) < 1.0, durations
