"""Each way the database can fail, over real HTTP: the delivery is queued, then written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from service.db.engine import DatabaseTarget
from service.db.schema import EXPECTED_OBJECTS, schema_sql
from service.outbox.spool import Spool
from service.settings import Settings
from simulator.harness import Database, ServiceProcess, wait_until
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from tests.support.databases import fresh_database
from tests.support.outage import a_delivery, post, service_env, verifier


@pytest.fixture(scope="module")
def proxy(database_url: str, database: Database) -> Iterator[FaultProxy]:
    database.execute(schema_sql())
    with FaultProxy(upstream_of(database_url)).start() as running:
        yield running


@pytest.fixture(scope="module")
def proxied(
    proxy: FaultProxy, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("proxied")
    env = service_env(proxied_url(database_url, proxy.port), workdir)
    with ServiceProcess(workdir, env) as running:
        yield running


@pytest.fixture(autouse=True)
def back_to_pass(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").set_mode("pass")


def stored(database: Database, event_id: str) -> bool:
    try:
        return database.value("SELECT count(*) FROM pointage WHERE event_id = $1", event_id) == 1
    except asyncpg.UndefinedTableError:
        return False  # not yet re-created


@pytest.mark.parametrize("fault", ["blackhole", "refuse"])
def test_a_delivery_during_a_network_fault_is_queued_then_written(
    proxied: ServiceProcess, proxy: FaultProxy, database: Database, fault: str
) -> None:
    assert post(proxied, a_delivery()).json()["status"] == "stored"  # a warm pool
    proxy.set_mode(fault)  # type: ignore[arg-type]
    documents = [a_delivery() for _ in range(3)]
    answers = [post(proxied, document) for document in documents]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(202, "queued")] * 3
    again = post(proxied, documents[0])
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    check = verifier(proxied)
    assert check.status_code == 503
    assert check.json()["database"]["reachable"] is False
    assert check.json()["spool"]["pending"] == 3
    proxy.set_mode("pass")
    assert wait_until(lambda: all(stored(database, d["id"]) for d in documents), 30)
    assert wait_until(lambda: verifier(proxied).json()["spool"]["pending"] == 0, 10)
    assert verifier(proxied).status_code == 200


def test_metrics_show_the_spool_depth_and_the_database_down(
    proxied: ServiceProcess, proxy: FaultProxy, database: Database
) -> None:
    assert post(proxied, a_delivery()).json()["status"] == "stored"
    assert gauges(proxied) == {"timemoto_database_up": 1.0, "timemoto_spool_pending": 0.0}
    proxy.set_mode("blackhole")
    documents = [a_delivery() for _ in range(2)]
    assert [post(proxied, d).status_code for d in documents] == [202, 202]
    assert gauges(proxied) == {"timemoto_database_up": 0.0, "timemoto_spool_pending": 2.0}
    proxy.set_mode("pass")
    assert wait_until(lambda: all(stored(database, d["id"]) for d in documents), 30)
    assert wait_until(lambda: gauges(proxied)["timemoto_spool_pending"] == 0.0, 10)


def gauges(service: ServiceProcess) -> dict[str, float]:
    text = httpx.get(f"{service.base_url}/metrics", timeout=10).text
    wanted = ("timemoto_database_up", "timemoto_spool_pending")
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in text.splitlines())
        if name in wanted
    }


def test_a_silent_pooled_connection_does_not_hold_the_answer(
    proxied: ServiceProcess, proxy: FaultProxy, database: Database
) -> None:
    """The hard case: connections stay open, the database just stops answering."""
    assert post(proxied, a_delivery()).json()["status"] == "stored"
    proxy.set_mode("blackhole")
    document = a_delivery()
    answer = post(proxied, document)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    proxy.set_mode("pass")
    assert wait_until(lambda: stored(database, document["id"]), 30)


def test_wrong_credentials_queue_until_the_role_exists(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    role = f"pointage_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url).set(username=role, password="not-the-password")
    env = service_env(url.render_as_string(hide_password=False), tmp_path)
    with ServiceProcess(tmp_path, env) as svc:
        document = a_delivery()
        answer = post(svc, document)
        assert (answer.status_code, answer.json()["status"]) == (202, "queued")
        check = verifier(svc).json()
        assert "authentication" in check["database"]["error"]
        assert "not-the-password" not in verifier(svc).text
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
        env = service_env(url, tmp_path, SCHEMA_AUTO_APPLY="false")
        with ServiceProcess(tmp_path, env) as svc:
            document = a_delivery()
            answer = post(svc, document)
            assert (answer.status_code, answer.json()["status"]) == (202, "queued")
            check = verifier(svc).json()
            assert check["database"]["reachable"] is True
            assert check["missing"] == [name for name, _ in EXPECTED_OBJECTS]
            assert check["spool"]["pending"] == 1
            Database(url).execute(schema_sql())  # what `python -m service db apply` runs
            assert wait_until(lambda: stored(Database(url), document["id"]), 30)
            assert "python -m service db apply" in svc.log()


def test_tables_dropped_while_running_are_recreated_and_the_spool_drained(
    proxied: ServiceProcess, database: Database
) -> None:
    """SCHEMA_AUTO_APPLY is on: the probe applies the schema when it finds it missing."""
    assert post(proxied, a_delivery()).json()["status"] == "stored"
    database.execute("DROP TABLE pointage CASCADE")
    document = a_delivery()
    answer = post(proxied, document)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    assert wait_until(lambda: stored(database, document["id"]), 30), proxied.log()
    assert "the pointage tables are missing" in proxied.log()


def test_a_dropped_column_keeps_deliveries_spooled_without_flooding_the_log(
    postgres_server_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_server_url, "column") as url:
        Database(url).execute(schema_sql())
        Database(url).execute("ALTER TABLE pointage DROP COLUMN horodatage_brut")
        with ServiceProcess(tmp_path, service_env(url, tmp_path)) as svc:
            documents = [a_delivery() for _ in range(3)]
            answers = [post(svc, document).json()["status"] for document in documents]
            assert answers == ["queued"] * 3
            assert wait_until(lambda: _attempts(tmp_path / "spool", url) >= 3, 30)
            Database(url).execute("ALTER TABLE pointage ADD COLUMN horodatage_brut timestamptz")
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


def test_a_signed_invalid_delivery_is_kept_in_quarantine(
    proxied: ServiceProcess, proxied_url_: str
) -> None:
    document = a_delivery()
    document["data"]["timeZone"] = "Mars/Olympus"
    answer = post(proxied, document)
    assert answer.status_code == 422
    target = DatabaseTarget.from_url(proxied_url_, Settings(webhook_secrets=("x",)))
    spool = Spool(Path(proxied.env["SPOOL_DIR"]), target.key, target.label)
    try:
        assert spool.quarantined() == 1
        assert spool.pending() == 0  # not queued for the database
    finally:
        spool.close()


@pytest.fixture(scope="module")
def proxied_url_(proxy: FaultProxy, database_url: str) -> str:
    return proxied_url(database_url, proxy.port)
