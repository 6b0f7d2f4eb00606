"""The whole log of a real service, scanned for its database password (issue 11).

Three passwords: one with an unencoded `@`, `/` and `:` (as an operator types it into
DATABASE_URL), one that is an ordinary word (`postgres`), one of 40 characters. The password never
appears; ordinary words do, intact (the role's name starts with "postgres", the log says
"pointage schema in place").
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from service.db.engine import DatabaseTarget
from service.settings import Settings, database_url_of
from simulator.harness import ServiceProcess
from tests.support.databases import Database, fresh_database
from tests.support.hardening import env_for, post, two_days
from tests.support.service import service_cli

PASSWORDS = {"unencoded": "p@ss/word:1", "word": "postgres", "long": "Zr8qK2vX" * 5}


@pytest.mark.parametrize("kind", PASSWORDS)
def test_the_log_never_holds_the_password_and_keeps_ordinary_words(
    kind: str, postgres_server_url: str, tmp_path: Path
) -> None:
    password = PASSWORDS[kind]
    role = f"postgres_pw_{uuid.uuid4().hex[:8]}"
    Database(postgres_server_url).execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with fresh_database(postgres_server_url, "redact") as admin_url:
            parts = make_url(admin_url)
            Database(admin_url).execute(f'ALTER DATABASE "{parts.database}" OWNER TO {role}')
            Database(admin_url).execute(f"ALTER SCHEMA public OWNER TO {role}")
            # As an operator types it: the password as it is, not percent-encoded.
            where = f"{parts.host}:{parts.port}" if parts.host else ""  # or a Unix socket
            query = f"?host={parts.query['host']}" if "host" in parts.query else ""
            url = f"postgresql://{role}:{password}@{where}/{parts.database}{query}"
            label = DatabaseTarget.from_url(database_url_of(url), Settings(("x",))).label
            log_format = "json" if kind == "long" else "text"
            env = env_for(url, tmp_path, LOG_FORMAT=log_format)
            with ServiceProcess(tmp_path, env) as service:
                answer = post(service.base_url, two_days(1)[0])
                assert answer.json()["status"] == "stored", answer.text
                cli = service_cli(["spool", "status"], env, tmp_path)
            log = service.log() + cli.stdout + cli.stderr
    finally:
        Database(postgres_server_url).execute(f"DROP ROLE IF EXISTS {role}")
    assert cli.returncode == 0, cli.stderr
    if kind != "word":  # a word may appear as itself; as a secret it would be in a URL
        assert password not in log
    assert f":{password}@" not in log and f"password={password}" not in log
    assert "[redacted]" not in log  # nothing needed hiding: no word was blanked either
    assert label in log
    assert "pointage schema in place" in log
