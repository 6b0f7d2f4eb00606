"""Through PgBouncer in transaction mode, with its default configuration (docs/contract.md §5).

PgBouncer's defaults refuse any startup parameter but a few (`statement_timeout`, `options`),
and in transaction mode each transaction may run on another server connection, so a statement
prepared in one is unknown in the next. Two service instances share a pool of 2 server
connections (each instance's own pool holds up to 10): 2,000 deliveries, all stored once,
nothing logged as an error by the service, PgBouncer or PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clusters import Clusters
from tests.support.pgbouncer import PgBouncer, pgbouncer
from tests.support.pgsetups import (
    DATABASE,
    PASSWORD,
    ROLE,
    apply_schema_as_owner,
    managed_database,
    readme_url,
    stored_event_ids,
)
from tests.support.restarts import Load
from tests.support.service import ServiceProcess, service_env, wait_until
from tests.support.webhook import SECRET

PGBOUNCER_URL = "postgresql://pointage:s3cret@pgbouncer.example.net:6432/erp"
DELIVERIES = 2_000


@pytest.fixture
def bouncer(tmp_path: Path) -> Iterator[PgBouncer]:
    with Clusters(tmp_path) as clusters:
        server = clusters.start(hba=["host all all 127.0.0.1/32 scram-sha-256"])
        managed_database(server)
        apply_schema_as_owner(server)  # so that neither instance logs that it applied it
        pool = {"default_pool_size": "2", "max_client_conn": "100"}
        with pgbouncer(server, {ROLE: PASSWORD}, database=DATABASE, settings=pool) as running:
            yield running


def _errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(r'"level": ?"(ERROR|WARNING)"', line)]


def test_two_instances_through_pgbouncer_store_every_delivery(
    bouncer: PgBouncer, tmp_path: Path
) -> None:
    url = readme_url(PGBOUNCER_URL, ("127.0.0.1", bouncer.port))
    # 16 clients queue for 2 server connections: on a busy machine a write can wait longer than
    # the default patience (3 s) and be spooled, which is right but not what this test is about.
    # With patience beyond any queueing, a `queued` answer can only mean a refused connection.
    patient = {"DB_CONNECT_TIMEOUT": "30", "DB_POOL_TIMEOUT": "30", "DB_STATEMENT_TIMEOUT": "30"}
    services = [
        ServiceProcess(
            tmp_path / name, service_env(url, tmp_path / name, LOG_FORMAT="json", **patient)
        )
        for name in ("one", "two")
    ]
    try:
        for service in services:
            service.start()
        loads = [Load(s.base_url, SECRET, total=DELIVERIES // 2, threads=8) for s in services]
        for load in loads:
            load.start(0)
        outcomes = [load.join(300) for load in loads]
        acknowledged = [event for outcome in outcomes for event in outcome.acknowledged]
        assert len(acknowledged) == DELIVERIES, [(o.refused, o.failed, o.other) for o in outcomes]

        def all_stored() -> bool:
            return (
                len(stored_event_ids(bouncer.cluster.socket_url(database=DATABASE))) >= DELIVERIES
            )

        assert wait_until(all_stored, 120)
        stored = stored_event_ids(bouncer.cluster.socket_url(database=DATABASE))
        assert sorted(stored) == sorted(acknowledged)  # each once
        logs = [service.log() for service in services]
    finally:
        for service in services:
            service.stop()
    for log in logs:
        assert _errors(log) == [], log[-3000:]
        # every delivery answered `stored`: none waited in the spool for a refused connection
        answers = [
            json.loads(line)["answer"] for line in log.splitlines() if "webhook delivery" in line
        ]
        assert len(answers) == DELIVERIES // 2 and set(answers) == {"stored"}, log[-3000:]
    assert "pooler error" not in bouncer.log() and "WARNING" not in bouncer.log(), bouncer.log()
    assert " ERROR: " not in bouncer.cluster.server_log(), bouncer.cluster.server_log()[-3000:]
