"""Each cause of docs/contract.md §8, produced for real, and said the same everywhere: the
verifier's `database.cause`, /api/status, the status page's headline (in French), one log line
for the outage; a delivery sent meanwhile is answered 202 and, once the cause is fixed the way an
operator would fix it, stored (never quarantined).

The servers are made by the test (tests/support/clusters.py): one with TLS and password
authentication, whose pg_hba.conf each case edits; one without TLS and few connections. The
network's causes go through the fault proxy in front of the suite's own server.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from markupsafe import escape
from sqlalchemy.engine import make_url

from service.db.schema import schema_sql
from service.domain.diagnosis import Cause, grants_for
from service.domain.headline import typographie
from service.http import paths
from simulator.harness import Database
from simulator.proxy import FaultProxy, upstream_of
from tests.support.clusters import SUPERUSER, Certificate, Cluster, Clusters
from tests.support.service import InProcessService, free_port, service_settings, wait_until
from tests.support.webhook import a_delivery, post

PASSWORD = "statut"
ROLE, ROLE_PASSWORD = "atelier", "m0t-de-passe"
DEADLINE = 60.0  # seconds; never reached when it works
OUTAGE_LINE = "ERROR service.recovery.breaker: "  # the line that says the database went away
HBA = [
    "hostnossl tlsonly all 127.0.0.1/32 reject",  # TLS only for this database
    "hostssl tlsonly all 127.0.0.1/32 scram-sha-256",
    "host rejected all 127.0.0.1/32 reject",  # this database refuses this host
    "host trusting all 127.0.0.1/32 trust",  # no password: a missing role is said so
    "host all all 127.0.0.1/32 scram-sha-256",
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Cluster]]:
    with Clusters(tmp_path_factory.mktemp("diagnosis")) as clusters:
        tls = clusters.start("tls", hba=HBA, tls=True)
        tls.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'")
        # 5 connections for roles that are not superusers (3 are kept for the superuser).
        few = clusters.start(
            "plain",
            hba=["host all all 127.0.0.1/32 scram-sha-256"],
            conf={"max_connections": "8", "superuser_reserved_connections": "3"},
        )
        few.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'")
        yield tls, few


def a_database(cluster: Cluster, owner: str = ROLE) -> str:
    name = f"d_{uuid.uuid4().hex[:8]}"
    cluster.sql(f"CREATE DATABASE {name} OWNER {owner}")
    return name


def stored(url: str, event_id: str) -> bool:
    try:
        rows = Database(url).fetch(
            "SELECT 1 FROM pointage_horodatage WHERE event_id = $1", event_id
        )
    except (OSError, asyncpg.PostgresError):
        return False
    return bool(rows)


def diagnosed(
    service: InProcessService, cause: Cause, *, once: bool = True
) -> tuple[str, dict[str, object]]:
    """A delivery is queued; every reader names `cause`; the log says it once. The delivery."""
    delivery = a_delivery()
    answer = post(service.client, delivery)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued"), answer.text

    def verifier() -> dict[str, object]:
        return dict(service.client.get(paths.VERIFIER).json()["database"])

    assert wait_until(lambda: verifier()["cause"] == cause.value, DEADLINE), (
        verifier(),
        service.log(),
    )
    auth = ("admin", PASSWORD)
    facts = service.client.get(paths.API_STATUS, auth=auth).json()
    assert facts["database"]["cause"] == cause.value
    assert facts["headline"]["level"] in ("warn", "bad")
    page = service.client.get(paths.STATUS, auth=auth).text
    assert str(escape(typographie(cause.advice.titre))) in page, cause
    assert "rien n&#39;est perdu" in page  # the delivery waits, and the page says so
    if once:
        assert service.log().count(OUTAGE_LINE) == 1, service.log()
    return delivery["id"], verifier()


def watching(url: str, workdir: Path, **overrides: object) -> InProcessService:
    settings = service_settings(url, workdir, quick=True, admin_password=PASSWORD, **overrides)
    return InProcessService(settings)


def ends_stored(service: InProcessService, owner_url: str, event_id: str) -> None:
    assert wait_until(lambda: stored(owner_url, event_id), DEADLINE), service.log()
    state = service.client.get(paths.VERIFIER).json()
    assert state["spool"]["quarantined"] == 0
    assert wait_until(
        lambda: service.client.get(paths.VERIFIER).json()["database"]["cause"] is None, DEADLINE
    ), service.log()


def superuser(cluster: Cluster, database: str) -> str:
    return cluster.socket_url(SUPERUSER, database)


# -- the server's causes -------------------------------------------------------------------------


def test_not_allowed_by_pg_hba(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    tls.sql(f"CREATE DATABASE rejected OWNER {ROLE}")
    url = tls.url(ROLE, "rejected", ROLE_PASSWORD)
    with watching(url, tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.NOT_ALLOWED)
        tls.set_hba([line for line in HBA if "reject" not in line])  # the DBA allows this host
        tls.reload()
        try:
            ends_stored(service, superuser(tls, "rejected"), event_id)
        finally:
            tls.set_hba(HBA)
            tls.reload()


def test_tls_required(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    tls.sql(f"CREATE DATABASE tlsonly OWNER {ROLE}")
    url = tls.url(ROLE, "tlsonly", ROLE_PASSWORD, sslmode="disable")
    with watching(url, tmp_path) as service:
        event_id, database = diagnosed(service, Cause.TLS_REQUIRED)
        assert "encrypted" in str(database["error"])
    fixed = tls.url(ROLE, "tlsonly", ROLE_PASSWORD, sslmode="require")  # what the page says
    with watching(fixed, tmp_path) as service:  # the same spool: the same database
        ends_stored(service, superuser(tls, "tlsonly"), event_id)


def test_tls_certificate(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    assert tls.tls is not None
    database = a_database(tls)
    other = Certificate.make(tmp_path / "other-ca", "other")
    url = tls.url(ROLE, database, ROLE_PASSWORD, sslmode="verify-ca", sslrootcert=str(other.cert))
    with watching(url, tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.TLS_CERTIFICATE)
    right = tls.url(
        ROLE, database, ROLE_PASSWORD, sslmode="verify-ca", sslrootcert=str(tls.tls.cert)
    )
    with watching(right, tmp_path) as service:
        ends_stored(service, superuser(tls, database), event_id)


def test_tls_unavailable(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    _, plain = servers
    database = a_database(plain)
    url = plain.url(ROLE, database, ROLE_PASSWORD, sslmode="require")
    with watching(url, tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.TLS_UNAVAILABLE)
    fixed = plain.url(ROLE, database, ROLE_PASSWORD, sslmode="disable")
    with watching(fixed, tmp_path) as service:
        ends_stored(service, superuser(plain, database), event_id)


def test_auth(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    role = f"r_{uuid.uuid4().hex[:8]}"
    tls.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'the-right-one'")
    database = a_database(tls, role)
    with watching(tls.url(role, database, "what-the-url-says"), tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.AUTH)
        tls.sql(f"ALTER ROLE {role} PASSWORD 'what-the-url-says'")
        ends_stored(service, superuser(tls, database), event_id)


def test_role_missing(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    """With a password, PostgreSQL hides whether the role exists (it says the password is
    wrong); where it asks none (trust), it says the role does not exist."""
    tls, _ = servers
    role = f"r_{uuid.uuid4().hex[:8]}"
    database = "trusting"
    tls.sql(f"CREATE DATABASE {database} OWNER {ROLE}")
    with watching(tls.url(role, database, "pw"), tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.ROLE_MISSING)
        tls.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        tls.sql(f"ALTER DATABASE {database} OWNER TO {role}")
        ends_stored(service, superuser(tls, database), event_id)


def test_database_missing(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    database = f"d_{uuid.uuid4().hex[:8]}"
    with watching(tls.url(ROLE, database, ROLE_PASSWORD), tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.DATABASE_MISSING)
        tls.sql(f"CREATE DATABASE {database} OWNER {ROLE}")
        ends_stored(service, superuser(tls, database), event_id)


def test_read_only(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    database = a_database(tls)
    tls.sql(f"ALTER DATABASE {database} SET default_transaction_read_only = on")
    with watching(tls.url(ROLE, database, ROLE_PASSWORD), tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.READ_ONLY)
        tls.sql(f"ALTER DATABASE {database} RESET default_transaction_read_only")
        ends_stored(service, superuser(tls, database), event_id)


def test_too_many_connections(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    _, plain = servers
    database = a_database(plain)
    url = plain.url(ROLE, database, ROLE_PASSWORD)
    env = {**os.environ, "PGPASSWORD": ROLE_PASSWORD}
    command = [plain.binaries("psql"), url, "-X", "-q", "-c", "SELECT pg_sleep(600)"]
    count = f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}'"
    # An earlier test's sessions may still be ending: the five must find every slot free.
    assert wait_until(lambda: plain.sql(count) == [["0"]], DEADLINE), plain.sql(count)
    holders = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(5)  # every connection a role that is not a superuser may have
    ]
    try:
        assert wait_until(lambda: plain.sql(count) == [["5"]], DEADLINE), plain.sql(count)
        with watching(url, tmp_path) as service:
            event_id, _ = diagnosed(service, Cause.TOO_MANY_CONNECTIONS)
            # The DBA ends those sessions (a client gone does not end a backend in pg_sleep).
            plain.sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE usename = '{ROLE}' AND pid <> pg_backend_pid()"
            )
            ends_stored(service, superuser(plain, database), event_id)
    finally:
        for holder in holders:
            holder.kill()
            holder.wait(DEADLINE)


def test_privileges_prints_the_grants(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    role = f"r_{uuid.uuid4().hex[:8]}"
    tls.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    database = a_database(tls, SUPERUSER)  # owned by another: this role may not create there
    tls.sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", database)
    with watching(tls.url(role, database, "pw"), tmp_path) as service:
        event_id, health = diagnosed(service, Cause.PRIVILEGES)
        grants = grants_for(role, "public")
        assert grants in str(health["error"])  # the GRANTs to run, printed exactly
        tls.sql(grants, database)  # the owner runs them, as printed
        ends_stored(service, superuser(tls, database), event_id)


def test_schema_missing(servers: tuple[Cluster, Cluster], tmp_path: Path) -> None:
    tls, _ = servers
    database = a_database(tls)
    url = tls.url(ROLE, database, ROLE_PASSWORD)
    with watching(url, tmp_path, schema_auto_apply=False) as service:
        event_id, _ = diagnosed(service, Cause.SCHEMA_MISSING)
        Database(url).execute(schema_sql())  # what `python -m service db apply` runs
        ends_stored(service, superuser(tls, database), event_id)


# -- the network's causes ------------------------------------------------------------------------


def test_dns(tmp_path: Path) -> None:
    with watching("postgresql://pointage@base.invalid:5432/erp", tmp_path) as service:
        diagnosed(service, Cause.DNS)


def test_refused_then_the_server_listens(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    url = database_url_on(database_url, port)
    with watching(url, tmp_path) as service:
        event_id, _ = diagnosed(service, Cause.REFUSED)
        with FaultProxy(upstream_of(database_url), port).start():  # now something listens
            ends_stored(service, database_url, event_id)
            # The INFO line comes with the first delivery drained from the spool: wait for it.
            assert wait_until(lambda: " is available" in service.log(), DEADLINE), service.log()
            assert service.log().count(OUTAGE_LINE) == 1  # one ERROR line for the outage
            assert service.log().count(" is available") == 1  # and one INFO line at its end


@pytest.mark.parametrize(
    ("mode", "cause"), [("blackhole", Cause.TIMEOUT), ("refuse", Cause.CONNECTION_LOST)]
)
def test_a_network_that_drops_or_resets(
    mode: str, cause: Cause, database_url: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    url = database_url_on(database_url, proxy.port)
    proxy.set_mode("pass")
    with watching(url, tmp_path) as service:
        assert post(service.client, a_delivery()).status_code == 200
        proxy.set_mode(mode)
        try:
            event_id, _ = diagnosed(service, cause, once=False)
            assert service.log().count(OUTAGE_LINE) == 1  # whatever the driver's wording
        finally:
            proxy.set_mode("pass")
        ends_stored(service, database_url, event_id)

        def after_the_outage() -> str:
            return service.log().split(OUTAGE_LINE, 1)[-1]

        # The INFO line comes with the first delivery drained from the spool: wait for it.
        assert wait_until(lambda: " is available" in after_the_outage(), DEADLINE), service.log()
        assert service.log().count(OUTAGE_LINE) == 1  # one ERROR line for the whole outage
        assert after_the_outage().count(" is available") == 1  # and one INFO line at its end


def database_url_on(database_url: str, port: int) -> str:
    """The suite's database, reached over TCP at 127.0.0.1:`port` (a proxy's, or nothing)."""
    url = make_url(database_url).set(host="127.0.0.1", port=port, query={})
    return url.render_as_string(hide_password=False)
