"""The log: one structured line per delivery, JSON in production, and nothing secret in it."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from conftest import WEBHOOK_SECRET
from service.domain.signature import sign
from service.logs import JsonFormatter, Redactor, TextFormatter, fields, secrets_of
from simulator.harness import ServiceProcess
from tests.support.databases import fresh_database
from tests.support.locks import inserts_wait
from tests.test_webhook_http import PATH, delivery, post

DB_PASSWORD = "db-pw-Zq81-never-logged"


def _record(message: str, **values: Any) -> logging.LogRecord:
    record = logging.LogRecord("service.http.webhook", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(fields(**values))
    return record


def test_the_redactor_removes_secrets_urls_passwords_and_signatures() -> None:
    redact = Redactor(secrets_of(["s3cret-one", "x"], f"postgresql://erp:{DB_PASSWORD}@db/erp"))
    signature = sign(b"{}", "s3cret-one")
    text = (
        f"secret s3cret-one url postgresql+asyncpg://erp:{DB_PASSWORD}@db:5432/erp "
        f"password {DB_PASSWORD} amqp://u:hunter22@mq/ sig {signature} sha256={signature.upper()}"
    )
    redacted = redact(text)
    for secret in ("s3cret-one", DB_PASSWORD, "postgresql", "hunter22", signature, "sha256="):
        assert secret.lower() not in redacted.lower()
    assert "[database url]" in redacted
    assert "amqp://u:[redacted]@mq/" in redacted
    assert "secret" in redacted  # a one-letter "secret" is not removed from every word


def test_json_lines_carry_the_fields_and_text_lines_quote_them() -> None:
    redact = Redactor(["s3cret-one"])
    record = _record("webhook delivery", event_id="tm_1", user="u 1\nforged=yes", http_status=200)
    line = json.loads(JsonFormatter(redact).format(record))
    assert line["message"] == "webhook delivery"
    assert line["logger"] == "service.http.webhook"
    assert line["level"] == "INFO"
    assert line["ts"].endswith("Z")
    assert (line["event_id"], line["user"], line["http_status"]) == ("tm_1", "u 1\nforged=yes", 200)
    text = TextFormatter(redact).format(record)
    assert "\n" not in text  # a value cannot start a line of its own
    assert 'event_id=tm_1 user="u 1\\nforged=yes" http_status=200' in text


@pytest.fixture(scope="module")
def password_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh database owned by a role that logs in with DB_PASSWORD; yields its URL."""
    role = f"pointage_log_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(postgres_server_url, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}'"))
    try:
        with fresh_database(postgres_server_url, "logs") as url:
            name = make_url(url).database
            asyncio.run(admin(f'ALTER DATABASE "{name}" OWNER TO {role}'))
            owned = make_url(url).set(username=role, password=DB_PASSWORD)
            yield owned.render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f"DROP ROLE IF EXISTS {role}"))


@pytest.fixture(scope="module")
def json_service(
    password_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("json-log")
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": password_database,
        "SPOOL_DIR": str(workdir / "spool"),
        "DATA_DIR": str(workdir / "data"),
        "LOG_FORMAT": "json",
    }
    with ServiceProcess(workdir, env) as running:
        yield running


def _webhook_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "webhook" in line.lower()]


def test_a_signed_id_cannot_forge_a_log_line() -> None:
    forged = "tm_x\n2026-11-30T00:00:00.000Z INFO service.webhook: webhook delivery answer=stored"
    record = logging.LogRecord(
        "service.webhook", logging.INFO, __file__, 1, "delivery %s refused", (forged,), None
    )
    record.fields = {"event_id": forged, "user": "a\x1b[2Jb"}
    text = TextFormatter(Redactor([])).format(record)
    assert "\n" not in text and "\x1b" not in text
    assert "tm_x\\n2026" in text  # escaped, still readable
    line = json.loads(JsonFormatter(Redactor([])).format(record))
    assert line["event_id"] == forged  # JSON keeps the value exactly, on one line


def test_each_delivery_is_one_json_line_and_nothing_secret_is_logged(
    json_service: ServiceProcess, password_database: str
) -> None:
    stored = delivery()
    body = json.dumps(stored).encode()
    signatures = [sign(body, WEBHOOK_SECRET)]
    assert post(json_service, body).json()["status"] == "stored"
    assert post(json_service, body).json()["status"] == "duplicate"
    forged = delivery()
    forged_body = json.dumps(forged).encode()
    signatures.append(sign(forged_body, "not-the-secret"))
    assert post(json_service, forged_body, signature=signatures[-1]).status_code == 401
    invalid = delivery()
    invalid["data"]["timeZone"] = "Mars/Olympus"
    invalid_body = json.dumps(invalid).encode()
    signatures.append(sign(invalid_body, WEBHOOK_SECRET).upper())
    assert post(json_service, invalid_body, signature=signatures[-1]).status_code == 422
    assert httpx.get(f"{json_service.base_url}/ready", timeout=10).status_code == 200

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

    for secret in (WEBHOOK_SECRET, DB_PASSWORD, password_database, *signatures):
        assert secret.lower() not in log.lower()
    assert "postgresql://" not in log


def test_text_log_has_one_greppable_line_per_delivery(service: ServiceProcess) -> None:
    sent = [delivery() for _ in range(3)]
    for document in sent:
        assert post(service, json.dumps(document).encode()).status_code == 200
    assert post(service, b"not json").status_code == 400
    lines = _webhook_lines(service.log())
    for document in sent:
        mine = [line for line in lines if document["id"] in line]
        assert len(mine) == 1
        assert "answer=stored http_status=200" in mine[0]
        assert f"user={document['data']['userId']}" in mine[0]
        assert "type=entree" in mine[0]
    assert any("answer=error http_status=400" in line for line in lines)
    assert not any(PATH in line for line in lines)  # uvicorn's access line is left out
    assert WEBHOOK_SECRET not in service.log()


def test_a_bad_log_format_is_refused_in_one_line(tmp_path: Path) -> None:
    from service.settings import ConfigurationError, Settings

    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"}, tmp_path / "absent.env")


def test_a_delivery_the_database_could_not_take_is_logged_with_its_answer(
    postgres_server_url: str, tmp_path: Path
) -> None:
    """A statement timeout (500 today; 202 once deliveries are spooled) still gets its line."""
    with fresh_database(postgres_server_url, "logs_timeout") as url:
        env = {
            "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": url,
            "SPOOL_DIR": str(tmp_path / "spool"),
            "DATA_DIR": str(tmp_path / "data"),
            "DB_STATEMENT_TIMEOUT": "0.5",
            "LOG_FORMAT": "json",
        }
        with ServiceProcess(tmp_path, env) as service:
            document = delivery()
            with inserts_wait(url):
                response = post(service, json.dumps(document).encode())
            service.stop()
            log = service.log()
    lines = [json.loads(line) for line in log.splitlines() if document["id"] in line]
    mine = [line for line in lines if line["message"] == "webhook delivery"]
    assert len(mine) == 1
    assert mine[0]["http_status"] == response.status_code != 200
    assert mine[0]["answer"] == response.json()["status"]
    assert "postgresql://" not in log
