"""SCHEMA_AUTO_APPLY with a role that may not create objects (issue 11).

The log says what is wrong (permission denied, not "SCHEMA_AUTO_APPLY is off"), once per change
of state and never per probe; the verifier's `error` names the permission problem; once a DBA
grants the right, the schema is applied and the queued delivery lands.

PROBE_MAX_DELAY=0.2 makes the probe run every 0.2 s: 6 s of failure are some 30 probes, more
than the 12 that 60 s make with the default 5 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from simulator.harness import Database, ServiceProcess, wait_until
from tests.support.databases import fresh_database
from tests.support.hardening import env_for, post, stored, two_days, verifier

FAILING_FOR = 6.0  # seconds


@pytest.fixture
def no_create_rights(postgres_server_url: str) -> Iterator[tuple[str, str, str]]:
    """(admin URL of a fresh database, URL of a role without CREATE on it, the role)."""
    role = f"pointage_nocreate_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    Database(postgres_server_url).execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with fresh_database(postgres_server_url, "nocreate") as admin_url:
            Database(admin_url).execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            url = make_url(admin_url).set(username=role, password=password)
            yield admin_url, url.render_as_string(hide_password=False), role
    finally:
        Database(postgres_server_url).execute(f"DROP ROLE IF EXISTS {role}")


def test_a_role_without_create_rights_is_named_once_and_recovers_when_granted(
    no_create_rights: tuple[str, str, str], tmp_path: Path
) -> None:
    admin_url, url, role = no_create_rights
    env = env_for(url, tmp_path, PROBE_MAX_DELAY="0.2")
    with ServiceProcess(tmp_path, env) as service:
        (delivery,) = two_days(1)[:1]
        answer = post(service.base_url, delivery)
        assert (answer.status_code, answer.json()["status"]) == (202, "queued")
        failing_since = time.monotonic()
        time.sleep(FAILING_FOR)

        check = verifier(service.base_url)
        assert check.status_code == 503
        body = check.json()
        assert body["database"]["reachable"] is True
        assert "permission denied" in body["database"]["error"]
        assert body["spool"]["pending"] == 1

        log = service.log()
        problems = [
            line
            for line in log.splitlines()
            if (" WARNING " in line or " ERROR " in line) and "webhook" not in line
        ]
        assert len(problems) <= 3, "\n".join(problems)
        assert any("permission denied while applying the schema" in line for line in problems)
        assert "SCHEMA_AUTO_APPLY is off" not in log
        assert time.monotonic() - failing_since >= FAILING_FOR

        Database(admin_url).execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        database = Database(admin_url)

        def landed() -> bool:
            try:
                return stored(database, [delivery["id"]]) == 1
            except asyncpg.UndefinedTableError:  # not applied yet
                return False

        assert wait_until(landed, 30, 0.2), service.log()
        assert wait_until(lambda: verifier(service.base_url).status_code == 200, 30)
        assert "applied sql/schema_pointage.sql" in service.log()
