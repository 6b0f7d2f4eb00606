"""The log of a real process (uvicorn's lines included): one structured line per delivery, JSON
in production, and nothing secret in it (the formats alone: unit/test_log_format.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.domain.signature import sign
from tests.support.databases import Database, fresh_database
from tests.support.locks import inserts_wait
from tests.support.service import ServiceProcess, service_env, wait_until
from tests.support.webhook import SECRET, VERIFIER, WEBHOOK, a_delivery, encode, post

DB_PASSWORD = "db-pw-Zq81-never-logged"


@pytest.fixture(scope="module")
def password_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database owned by a role that logs in with DB_PASSWORD; yields its URL."""
    role = f"pointage_log_{uuid.uuid4().hex[:8]}"

    admin = Database(postgres_server_url)
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}'")
    try:
        with fresh_database(postgres_server_url, "logs") as url:
            name = make_url(url).database
            admin.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')
            owned = make_url(url).set(username=role, password=DB_PASSWORD)
            yield owned.render_as_string(hide_password=False)
    finally:
        admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture(scope="module")
def json_service(
    password_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("json-log")
    env = service_env(password_database, workdir, LOG_FORMAT="json")
    with ServiceProcess(workdir, env) as running:
        yield running


@pytest.fixture(scope="module")
def service_process(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The service as uvicorn runs it, with the default (text) log."""
    workdir = tmp_path_factory.mktemp("text-log")
    with ServiceProcess(workdir, service_env(database_url, workdir)) as running:
        yield running


def _webhook_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "webhook" in line.lower()]


def test_each_delivery_is_one_json_line_and_nothing_secret_is_logged(
    json_service: ServiceProcess, password_database: str
) -> None:
    stored = a_delivery()
    body = json.dumps(stored).encode()
    signatures = [sign(body, SECRET)]
    assert post(json_service.client, body).json()["status"] == "stored"
    assert post(json_service.client, body).json()["status"] == "duplicate"
    forged = a_delivery()
    forged_body = json.dumps(forged).encode()
    signatures.append(sign(forged_body, "not-the-secret"))
    assert post(json_service.client, forged_body, signature=signatures[-1]).status_code == 401
    invalid = a_delivery()
    invalid["data"]["timeZone"] = "Mars/Olympus"
    invalid_body = json.dumps(invalid).encode()
    signatures.append(sign(invalid_body, SECRET).upper())
    assert post(json_service.client, invalid_body, signature=signatures[-1]).status_code == 422
    assert json_service.client.get("/ready").status_code == 200

    json_service.stop()  # every line is written, and shutdown lines are checked too
    log = json_service.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(lines) == len(log.splitlines())  # JSON only, uvicorn's lines included
    deliveries = [line for line in lines if line["message"] == "webhook delivery"]
    assert [(d["event_id"], d["answer"], d["http_status"]) for d in deliveries] == [
        (stored["id"], "stored", 200),
        (stored["id"], "duplicate", 200),
        (None, "error", 401),  # a forged body is not read, not even its id
        (invalid["id"], "error", 422),
    ]
    first = deliveries[0]
    assert first["user"] == stored["data"]["userId"]
    assert (first["event"], first["type"]) == ("attendance.inserted", "entree")
    assert first["duration_ms"] >= 0
    assert deliveries[2]["user"] is None  # a forged body's content is not repeated
    assert len(_webhook_lines(log)) == len(deliveries)  # no second (access) line per delivery
    assert any(line["logger"] == "uvicorn.access" and "/ready" in line["message"] for line in lines)

    for secret in (SECRET, DB_PASSWORD, password_database, *signatures):
        assert secret.lower() not in log.lower()
    assert "postgresql://" not in log


def test_text_log_has_one_greppable_line_per_delivery(service_process: ServiceProcess) -> None:
    sent = [a_delivery() for _ in range(3)]
    for document in sent:
        assert post(service_process.client, encode(document)).status_code == 200
    assert post(service_process.client, b"not json").status_code == 400
    # A line is written at the end of its loop turn, which may come after its answer was sent.
    last = "answer=error http_status=400"
    assert wait_until(lambda: last in service_process.log(), 10)
    lines = _webhook_lines(service_process.log())
    for document in sent:
        mine = [line for line in lines if document["id"] in line]
        assert len(mine) == 1
        assert "answer=stored http_status=200" in mine[0]
        assert f"user={document['data']['userId']}" in mine[0]
        assert "type=entree" in mine[0]
    assert any(last in line for line in lines)
    assert not any(WEBHOOK in line for line in lines)  # uvicorn's access line is left out
    assert SECRET not in service_process.log()


def test_a_delivery_the_database_could_not_take_is_logged_with_its_answer(
    postgres_server_url: str, tmp_path: Path
) -> None:
    """A statement timeout (500 today; 202 once deliveries are spooled) still gets its line."""
    with fresh_database(postgres_server_url, "logs_timeout") as url:
        env = service_env(url, tmp_path, DB_STATEMENT_TIMEOUT="0.5", LOG_FORMAT="json")
        with ServiceProcess(tmp_path, env) as service:
            document = a_delivery()
            with inserts_wait(url):
                response = post(service.client, encode(document))
            service.stop()
            log = service.log()
    lines = [json.loads(line) for line in log.splitlines() if document["id"] in line]
    mine = [line for line in lines if line["message"] == "webhook delivery"]
    assert len(mine) == 1
    assert mine[0]["http_status"] == response.status_code != 200
    assert mine[0]["answer"] == response.json()["status"]
    assert "postgresql://" not in log


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", VERIFIER])
def test_operator_requests_keep_their_access_line(
    service_process: ServiceProcess, path: str
) -> None:
    service_process.client.get(path)
    # The access line stays for these; written at the end of the loop's turn, after the answer.
    assert wait_until(lambda: f'"GET {path} HTTP/1.1"' in service_process.log(), 10)
