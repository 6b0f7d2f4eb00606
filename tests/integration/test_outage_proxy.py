"""Each way the network to the database can fail, through the fault proxy (a real TCP proxy) to
the service in this process: the delivery is queued, then written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from service.db.engine import DatabaseTarget
from service.outbox.spool import Spool
from service.settings import Settings
from simulator.proxy import FaultProxy, proxied_url
from tests.support.databases import Database
from tests.support.service import InProcessService, service_settings, wait_until
from tests.support.webhook import a_delivery, post, verifier


@pytest.fixture(scope="module")
def proxied_url_(proxy: FaultProxy, database_url: str) -> str:
    return proxied_url(database_url, proxy.port)


@pytest.fixture(scope="module")
def proxied(
    proxied_url_: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessService]:
    workdir = tmp_path_factory.mktemp("proxied")
    with InProcessService(service_settings(proxied_url_, workdir, quick=True)) as running:
        yield running


@pytest.fixture
def client(proxied: InProcessService) -> httpx.Client:
    return proxied.client


@pytest.fixture(autouse=True)
def back_to_pass(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").set_mode("pass")


@pytest.fixture(autouse=True)
def settled(proxied: InProcessService) -> None:
    """Each test starts from a settled service: deliveries go to the database (no probe is
    pending after the last test's fault) and the spool is empty."""
    settled = {"timemoto_database_up": 1.0, "timemoto_spool_pending": 0.0}
    assert wait_until(lambda: gauges(proxied.client) == settled, 30), proxied.log()


def stored(database: Database, event_id: str) -> bool:
    try:
        return (
            database.value("SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", event_id)
            == 1
        )
    except asyncpg.UndefinedTableError:
        return False  # not yet re-created


@pytest.mark.parametrize("fault", ["blackhole", "refuse"])
def test_a_delivery_during_a_network_fault_is_queued_then_written(
    client: httpx.Client, proxy: FaultProxy, database: Database, fault: str
) -> None:
    assert post(client, a_delivery()).json()["status"] == "stored"  # a warm pool
    proxy.set_mode(fault)  # type: ignore[arg-type]
    documents = [a_delivery() for _ in range(3)]
    answers = [post(client, document) for document in documents]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(202, "queued")] * 3
    again = post(client, documents[0])
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    check = verifier(client)
    assert check.status_code == 503
    assert check.json()["database"]["reachable"] is False
    assert check.json()["spool"]["pending"] == 3
    proxy.set_mode("pass")
    assert wait_until(lambda: all(stored(database, d["id"]) for d in documents), 30)
    assert wait_until(lambda: verifier(client).json()["spool"]["pending"] == 0, 10)
    assert verifier(client).status_code == 200


def test_metrics_show_the_spool_depth_and_the_database_down(
    client: httpx.Client, proxy: FaultProxy, database: Database
) -> None:
    assert post(client, a_delivery()).json()["status"] == "stored"
    assert gauges(client) == {"timemoto_database_up": 1.0, "timemoto_spool_pending": 0.0}
    proxy.set_mode("blackhole")
    documents = [a_delivery() for _ in range(2)]
    assert [post(client, d).status_code for d in documents] == [202, 202]
    assert gauges(client) == {"timemoto_database_up": 0.0, "timemoto_spool_pending": 2.0}
    proxy.set_mode("pass")
    assert wait_until(lambda: all(stored(database, d["id"]) for d in documents), 30)
    assert wait_until(lambda: gauges(client)["timemoto_spool_pending"] == 0.0, 10)


def gauges(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    wanted = ("timemoto_database_up", "timemoto_spool_pending")
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in text.splitlines())
        if name in wanted
    }


def test_a_silent_pooled_connection_does_not_hold_the_answer(
    client: httpx.Client, proxy: FaultProxy, database: Database
) -> None:
    """The hard case: connections stay open, the database just stops answering."""
    assert post(client, a_delivery()).json()["status"] == "stored"
    proxy.set_mode("blackhole")
    document = a_delivery()
    answer = post(client, document)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    proxy.set_mode("pass")
    assert wait_until(lambda: stored(database, document["id"]), 30)


def test_tables_dropped_while_running_are_recreated_and_the_spool_drained(
    proxied: InProcessService, database: Database
) -> None:
    """SCHEMA_AUTO_APPLY is on: the probe applies the schema when it finds it missing."""
    client = proxied.client
    assert post(client, a_delivery()).json()["status"] == "stored"
    database.execute("DROP TABLE pointage_horodatage CASCADE")
    document = a_delivery()
    answer = post(client, document)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    assert wait_until(lambda: stored(database, document["id"]), 30), proxied.log()
    assert "the pointage tables are missing" in proxied.log()


def test_a_signed_invalid_delivery_is_kept_in_quarantine(
    proxied: InProcessService, proxied_url_: str
) -> None:
    document = a_delivery()
    document["data"]["timeZone"] = "Mars/Olympus"
    answer = post(proxied.client, document)
    assert answer.status_code == 422
    target = DatabaseTarget.from_url(proxied_url_, Settings(webhook_secrets=("x",)))
    spool = Spool(Path(proxied.settings.spool_dir), target.key, target.label)
    try:
        assert spool.quarantined() == 1
        assert spool.pending() == 0  # not queued for the database
    finally:
        spool.close()
