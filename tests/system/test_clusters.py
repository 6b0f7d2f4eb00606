"""The clusters harness (tests/support/clusters.py): what the PostgreSQL setup tests rely on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from tests.support.clusters import Certificate, Clusters, process_alive


def _connects(url: str) -> str:
    """'ok', or the class name of the error connecting to `url` raised."""

    async def attempt() -> str:
        try:
            connection = await asyncpg.connect(url, timeout=10)
        except Exception as exc:  # noqa: BLE001 - the kind of failure is what is compared
            return type(exc).__name__
        await connection.close()
        return "ok"

    return asyncio.run(attempt())


def test_a_primary_and_its_standby_stop_with_the_block_even_when_the_test_fails(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    with pytest.raises(ZeroDivisionError), Clusters(tmp_path) as clusters:
        primary = clusters.start(
            hba=["host all all 127.0.0.1/32 scram-sha-256"], conf={"max_connections": "30"}
        )
        primary.sql("CREATE ROLE app LOGIN PASSWORD 'pa ss'")
        primary.sql("CREATE DATABASE erp OWNER app")
        assert primary.sql("SHOW max_connections") == [["30"]]
        assert _connects(primary.url("app", "erp", password="pa ss")) == "ok"
        assert _connects(primary.url("app", "erp", password="wrong")) == "InvalidPasswordError"
        primary.sql("CREATE TABLE t (n int)", database="erp")
        primary.sql("INSERT INTO t VALUES (1), (2)", database="erp")

        standby = clusters.standby_of(primary)
        assert standby.sql("SELECT pg_is_in_recovery(), count(*) FROM t", "erp") == [["t", "2"]]
        primary.stop()
        standby.promote()
        standby.sql("INSERT INTO t VALUES (3)", database="erp")
        assert _connects(standby.url("app", "erp", password="pa ss")) == "ok"
        pids = [pid for cluster in clusters.made if (pid := cluster.pid) is not None]
        assert pids, "the standby runs"
        1 / 0  # noqa: B018 - the test fails here: the block must still stop everything
    assert not any(process_alive(pid) for pid in pids)


def test_tls_only_with_a_self_signed_certificate(tmp_path: Path) -> None:
    with Clusters(tmp_path) as clusters:
        server = clusters.start(hba=["hostssl all all 127.0.0.1/32 trust"], tls=True)
        assert server.tls is not None
        assert _connects(server.url(sslmode="disable")) == "InvalidAuthorizationSpecificationError"
        assert _connects(server.url(sslmode="require")) == "ok"
        right = server.url(sslmode="verify-full", sslrootcert=str(server.tls.cert))
        assert _connects(right) == "ok"
        other = Certificate.make(tmp_path / "other", "other")
        wrong = server.url(sslmode="verify-full", sslrootcert=str(other.cert))
        assert _connects(wrong) == "SSLCertVerificationError"
        assert _connects(server.socket_url()) == "ok"
