"""When the database itself refuses (wrong credentials, missing tables, a dropped column), each
on a service of its own in this process: the delivery is queued, then written."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from service.db.engine import DatabaseTarget
from service.db.schema import CORRECTION_CHECK_NAME, EXPECTED_OBJECTS, schema_sql
from service.outbox.spool import Spool
from service.settings import Settings
from tests.support.databases import Database, fresh_database
from tests.support.service import InProcessService, service_settings, wait_until
from tests.support.webhook import a_delivery, post, verifier


def stored(database: Database, event_id: str) -> bool:
    try:
        return (
            database.value("SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", event_id)
            == 1
        )
    except asyncpg.UndefinedTableError:
        return False  # not yet created


def test_wrong_credentials_queue_until_the_role_exists(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    database.execute(schema_sql())  # the tables are in place (owned by another role)
    role = f"pointage_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url).set(username=role, password="not-the-password")
    settings = service_settings(url.render_as_string(hide_password=False), tmp_path, quick=True)
    with InProcessService(settings) as svc:
        document = a_delivery()
        answer = post(svc.client, document)
        assert (answer.status_code, answer.json()["status"]) == (202, "queued")
        check = verifier(svc.client).json()
        assert check["database"]["cause"] == "role_missing"  # docs/contract.md §8
        assert f'role "{role}" does not exist' in check["database"]["error"]
        assert "not-the-password" not in verifier(svc.client).text
        database.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'not-the-password'")
        try:
            assert wait_until(lambda: stored(database, document["id"]), 30)
        finally:
            svc.stop()
            database.execute(f"DROP ROLE {role}")


def test_missing_tables_queue_until_the_schema_is_applied(
    postgres_server_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_server_url, "missing") as url:
        settings = service_settings(url, tmp_path, quick=True, schema_auto_apply=False)
        with InProcessService(settings) as svc:
            document = a_delivery()
            answer = post(svc.client, document)
            assert (answer.status_code, answer.json()["status"]) == (202, "queued")
            check = verifier(svc.client).json()
            assert check["database"]["reachable"] is True
            assert check["missing"] == [name for name, _ in EXPECTED_OBJECTS]
            assert check["spool"]["pending"] == 1
            Database(url).execute(schema_sql())  # what `python -m service db apply` runs
            assert wait_until(lambda: stored(Database(url), document["id"]), 30)
            assert "python -m service db apply" in svc.log()


def test_a_dropped_column_keeps_deliveries_spooled_without_flooding_the_log(
    postgres_server_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_server_url, "column") as url:
        Database(url).execute(schema_sql())
        Database(url).execute("ALTER TABLE pointage_horodatage DROP COLUMN horodatage_brut")
        with InProcessService(service_settings(url, tmp_path, quick=True)) as svc:
            documents = [a_delivery() for _ in range(3)]
            answers = [post(svc.client, document).json()["status"] for document in documents]
            assert answers == ["queued"] * 3
            assert wait_until(lambda: _attempts(tmp_path / "spool", url) >= 3, 30)
            Database(url).execute(
                "ALTER TABLE pointage_horodatage ADD COLUMN horodatage_brut timestamptz"
            )
            assert wait_until(lambda: all(stored(Database(url), d["id"]) for d in documents), 30)
            assert svc.log().count("unavailable: the pointage tables are missing") == 1


def _attempts(spool_dir: Path, url: str) -> int:
    """How often the drainer has tried the oldest spooled delivery."""
    target = DatabaseTarget.from_url(url, Settings(webhook_secrets=("x",)))
    spool = Spool(spool_dir, target.key, target.label)
    try:
        oldest = spool.oldest(1)
        return oldest[0].attempts if oldest else 0
    finally:
        spool.close()


def test_a_schema_from_before_the_correction_check_queues_until_it_is_applied_again(
    postgres_server_url: str, tmp_path: Path
) -> None:
    """A DBA applied an older schema_pointage.sql by hand: the batch insert's function is not
    there. Deliveries are queued, the verifier names it, and the schema applied again drains
    them."""
    with fresh_database(postgres_server_url, "older") as url:
        Database(url).execute(schema_sql())
        Database(url).execute(f"DROP FUNCTION {CORRECTION_CHECK_NAME}(text)")
        settings = service_settings(url, tmp_path, quick=True, schema_auto_apply=False)
        with InProcessService(settings) as svc:
            document = a_delivery()
            answer = post(svc.client, document)
            assert (answer.status_code, answer.json()["status"]) == (202, "queued")
            assert verifier(svc.client).json()["missing"] == [CORRECTION_CHECK_NAME]
            Database(url).execute(schema_sql())
            assert wait_until(lambda: stored(Database(url), document["id"]), 30)
