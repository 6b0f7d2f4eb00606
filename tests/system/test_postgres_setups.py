"""The PostgreSQL setups ERPs really have (docs/contract.md §5), each made by the test for itself
(tests/support/clusters.py): a managed database over TLS reached by a role that is not a
superuser, a primary with a streaming standby and a failover under load, a standby or a
database set read-only. Every DATABASE_URL is one of README's examples, as written there but
for its hosts and ports (and the CA's path).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from service.domain.signature import sign
from service.http import paths
from simulator.company import a_day_of_punches
from simulator.expectations import database_totals, differences, expected_totals
from simulator.harness import Database
from simulator.proxy import FaultProxy
from tests.support.clusters import Certificate, Cluster, Clusters
from tests.support.pgsetups import (
    DATABASE,
    apply_schema_as_owner,
    managed_database,
    readme_url,
    stored_event_ids,
)
from tests.support.service import (
    InProcessService,
    ServiceProcess,
    service_cli,
    service_env,
    service_settings,
    wait_until,
)
from tests.support.webhook import SECRET, TLS, a_delivery, post

REQUIRE_URL = "postgresql://pointage:s3cret@db.example.net:20184/erp?sslmode=require"
SSL_TRUE_URL = "postgresql://pointage:s3cret@db.example.net:20184/erp?ssl=true"
VERIFY_FULL_URL = (
    "postgresql://pointage:s3cret@db.example.net:20184/erp"
    "?sslmode=verify-full&sslrootcert=/etc/timemoto-pointage/ca.pem"
)
CA_PATH = "/etc/timemoto-pointage/ca.pem"
FAILOVER_URL = (
    "postgresql://pointage:s3cret@pg1.example.net:5432,pg2.example.net:5432/erp"
    "?target_session_attrs=read-write"
)
UNAVAILABLE = " unavailable: "  # the breaker's line when the database goes (service/recovery)
AVAILABLE = " is available, pointage schema in place"  # and when it is back
HBA_PASSWORD = ["host all all 127.0.0.1/32 scram-sha-256"]


def _host(cluster: Cluster) -> tuple[str, int]:
    return ("127.0.0.1", cluster.port)


def _superuser(cluster: Cluster) -> str:
    return cluster.socket_url(database=DATABASE)


# -- a managed database over TLS ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """TLS only (`hostssl`), a self-signed certificate, a role that owns only its database."""
    with Clusters(tmp_path_factory.mktemp("tls")) as clusters:
        server = clusters.start(hba=["hostssl all all 127.0.0.1/32 scram-sha-256"], tls=True)
        managed_database(server)
        yield server


def _one_delivery(url: str, workdir: Path) -> tuple[int, str, str, str]:
    """A delivery posted to a service on `url`: its HTTP status, its answer, the log, its id."""
    with InProcessService(service_settings(url, workdir, quick=True)) as service:
        delivery = a_delivery()
        answer = post(service.client, delivery)
        return answer.status_code, answer.json()["status"], service.log(), delivery["id"]


@pytest.mark.parametrize("example", [REQUIRE_URL, SSL_TRUE_URL, VERIFY_FULL_URL])
def test_tls_only_server_takes_readme_s_urls(
    example: str, tls_server: Cluster, tmp_path: Path
) -> None:
    assert tls_server.tls is not None
    url = readme_url(example, _host(tls_server), **{CA_PATH: str(tls_server.tls.cert)})
    status, answer, log, event_id = _one_delivery(url, tmp_path)
    assert (status, answer) == (200, "stored"), log  # the schema applied by `pointage` if need be
    assert event_id in stored_event_ids(_superuser(tls_server))


def test_verify_full_with_another_ca_is_refused_and_deliveries_wait(
    tls_server: Cluster, tmp_path: Path
) -> None:
    other = Certificate.make(tmp_path / "other-ca", "other")
    url = readme_url(VERIFY_FULL_URL, _host(tls_server), **{CA_PATH: str(other.cert)})
    status, answer, log, _ = _one_delivery(url, tmp_path)
    assert (status, answer) == (202, "queued"), log
    assert "certificate verify failed" in log or "CERTIFICATE_VERIFY_FAILED" in log, log


def test_without_tls_a_hostssl_only_server_refuses_and_deliveries_wait(
    tls_server: Cluster, tmp_path: Path
) -> None:
    url = readme_url(REQUIRE_URL, _host(tls_server)).replace("sslmode=require", "sslmode=disable")
    assert _one_delivery(url, tmp_path)[:2] == (202, "queued")


# -- a role that is not a superuser -------------------------------------------------------------


def test_db_apply_as_a_role_that_only_owns_its_database(tmp_path: Path) -> None:
    with Clusters(tmp_path) as clusters:
        server = clusters.start(hba=HBA_PASSWORD)
        managed_database(server)
        url = readme_url(REQUIRE_URL, _host(server)).replace("?sslmode=require", "")
        env = service_env(url, tmp_path)
        applied = service_cli(["db", "apply"], env, tmp_path)
        assert applied.returncode == 0, applied.stderr
        verified = service_cli(["db", "verify"], env, tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert server.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'pointage'") == [["f"]]
        owners = server.sql(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relname LIKE 'pointage%' AND relkind = 'r'",
            database=DATABASE,
        )
        assert owners == [["pointage"]]


# -- read-only: a database set so, a standby ----------------------------------------------------


def _stored_count(cluster: Cluster) -> int:
    return len(stored_event_ids(_superuser(cluster)))


def test_a_database_set_read_only_keeps_deliveries_pending_then_writes_them(
    tmp_path: Path,
) -> None:
    with Clusters(tmp_path) as clusters:
        server = clusters.start(hba=HBA_PASSWORD)
        managed_database(server)
        apply_schema_as_owner(server)
        url = readme_url(REQUIRE_URL, _host(server)).replace("?sslmode=require", "")
        server.sql(f"ALTER DATABASE {DATABASE} SET default_transaction_read_only = on")
        with InProcessService(service_settings(url, tmp_path, quick=True)) as service:
            answers = [post(service.client, a_delivery()).json()["status"] for _ in range(5)]
            assert answers == ["queued"] * 5, service.log()
            assert _stored_count(server) == 0
            assert service.log().count(UNAVAILABLE) == 1, service.log()
            assert "accepts no writes" in service.log()
            assert "quarantin" not in service.log().lower()
            server.sql(f"ALTER DATABASE {DATABASE} RESET default_transaction_read_only")
            assert wait_until(lambda: _stored_count(server) == 5, 60), service.log()
            assert wait_until(lambda: AVAILABLE in service.log().split(UNAVAILABLE)[-1], 30)
            assert service.log().count(UNAVAILABLE) == 1, service.log()


def test_a_url_naming_a_standby_keeps_deliveries_pending_until_it_is_promoted(
    tmp_path: Path,
) -> None:
    with Clusters(tmp_path) as clusters:
        primary = clusters.start(hba=HBA_PASSWORD)
        managed_database(primary)
        apply_schema_as_owner(primary)
        standby = clusters.standby_of(primary)
        url = readme_url(REQUIRE_URL, _host(standby)).replace("?sslmode=require", "")
        with InProcessService(service_settings(url, tmp_path, quick=True)) as service:
            answers = [post(service.client, a_delivery()).json()["status"] for _ in range(5)]
            assert answers == ["queued"] * 5, service.log()
            assert "accepts no writes" in service.log(), service.log()
            primary.stop()
            standby.promote()
            assert wait_until(lambda: _stored_count(standby) == 5, 60), service.log()
            assert wait_until(lambda: AVAILABLE in service.log().split(UNAVAILABLE)[-1], 30)
            assert service.log().count(UNAVAILABLE) == 1, service.log()
            assert "quarantin" not in service.log().lower()


# -- a primary, a streaming standby, and a failover under load ---------------------------------

DAYS = 15  # 3 employees x 4 punches x 15 days: 180 deliveries
THREADS = 4


@dataclass
class Sender:
    """Deliveries from a few threads, each until answered; what was acknowledged."""

    base_url: str
    deliveries: list[dict[str, object]]

    def __post_init__(self) -> None:
        self.acknowledged: list[str] = []
        self.queue = list(self.deliveries)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send) for _ in range(THREADS)]

    def _send(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    return
                document = self.queue.pop(0)
            body = json.dumps(document).encode()
            headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, SECRET)}
            answer = httpx.post(
                f"{self.base_url}{paths.WEBHOOK}",
                content=body,
                headers=headers,
                timeout=60,
                verify=TLS,
            )
            assert answer.status_code in (200, 202), answer.text
            with self.lock:
                self.acknowledged.append(str(document["id"]))

    def start(self) -> Sender:
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self.threads:
            thread.join(300)


def test_failover_under_load_loses_nothing_and_says_so_twice(tmp_path: Path) -> None:
    with Clusters(tmp_path) as clusters:
        primary = clusters.start(hba=HBA_PASSWORD)
        managed_database(primary)
        standby = clusters.standby_of(primary)
        url = readme_url(FAILOVER_URL, _host(primary), _host(standby))
        deliveries = [
            delivery
            for day in range(DAYS)
            for delivery in a_day_of_punches(datetime(2026, 10, 1) + timedelta(days=day))
        ]
        workdir = tmp_path / "service"
        with ServiceProcess(workdir, service_env(url, workdir, quick=True)) as service:
            assert wait_until(lambda: AVAILABLE in service.log(), 30), service.log()
            sender = Sender(service.base_url, deliveries).start()
            assert wait_until(lambda: len(sender.acknowledged) >= len(deliveries) // 3, 120)
            primary.stop()
            assert wait_until(lambda: UNAVAILABLE in service.log(), 60), service.log()
            assert wait_until(lambda: len(sender.acknowledged) >= 2 * len(deliveries) // 3, 120)
            standby.promote()
            sender.join()
            assert len(sender.acknowledged) == len(deliveries)
            assert wait_until(lambda: _stored_count(standby) == len(deliveries), 120)
            assert wait_until(lambda: AVAILABLE in service.log().split(UNAVAILABLE)[-1], 30)
            log = service.log()
        assert sorted(stored_event_ids(_superuser(standby))) == sorted(sender.acknowledged)
        lines = [json.dumps(delivery) for delivery in deliveries]
        totals = database_totals(Database(_superuser(standby)))
        assert differences(expected_totals(lines), totals) == []
        assert log.count(UNAVAILABLE) == 1, log
        assert log.split(UNAVAILABLE)[-1].count(AVAILABLE) == 1, log


# -- several hosts: each its own connect timeout -------------------------------------------------


def test_a_first_host_that_drops_packets_does_not_hide_the_second(tmp_path: Path) -> None:
    """libpq's connect_timeout is per host: a first host that never answers costs its timeout,
    then the next is tried (asyncpg's own timeout spans all the hosts)."""
    with Clusters(tmp_path) as clusters:
        server = clusters.start(hba=HBA_PASSWORD)
        managed_database(server)
        apply_schema_as_owner(server)
        with FaultProxy(f"127.0.0.1:{server.port}").start() as silent:
            silent.set_mode("blackhole")
            url = readme_url(FAILOVER_URL, ("127.0.0.1", silent.port), _host(server))
            url += "&connect_timeout=2"
            settings = service_settings(url, tmp_path, connect_timeout=3.0)
            with InProcessService(settings) as service:
                assert post(service.client, a_delivery()).status_code in (200, 202)
                assert wait_until(lambda: _stored_count(server) == 1, 60), service.log()
                assert AVAILABLE in service.log()


# -- a parameter the service does not take -------------------------------------------------------


@pytest.mark.parametrize("command", [["serve"], ["db", "verify"], ["spool", "status"]])
def test_an_unknown_parameter_stops_the_start_with_one_line(
    command: list[str], tmp_path: Path
) -> None:
    url = "postgresql://pointage:s3cret@db.example.net:20184/erp?sslmode=require&sslmod=verify"
    done = service_cli(command, service_env(url, tmp_path), tmp_path, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'sslmod'" in lines[0] and "s3cret" not in lines[0], lines
