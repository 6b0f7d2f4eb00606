"""`python -m service spool status|drain`, on a real database and a real spool file."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from service.db.engine import DatabaseTarget
from service.db.schema import schema_sql
from service.outbox.spool import Spool
from service.settings import Settings
from tests.support.databases import Database
from tests.support.service import free_port, service_cli
from tests.support.webhook import SECRET, a_delivery

RECEIVED = datetime(2026, 11, 30, 7, 59, 30, tzinfo=UTC)


def cli(*args: str, database_url: str, spool_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "DATABASE_URL": database_url,
        "TIMEMOTO_SECRET": SECRET,
        "SPOOL_DIR": str(spool_dir),
        "DB_CONNECT_TIMEOUT": "1",
    }
    return service_cli(args, env, spool_dir.parent)


def spool_for(url: str, spool_dir: Path) -> Spool:
    target = DatabaseTarget.from_url(url, Settings(webhook_secrets=("x",)))
    return Spool(spool_dir, target.key, target.label)


def test_status_counts_pending_and_warns_of_stranded_deliveries(tmp_path: Path) -> None:
    here = "postgresql://erp@127.0.0.1:1/erp"
    elsewhere = "postgresql://erp@db.example:5432/erp"
    spool = spool_for(here, tmp_path / "spool")
    spool.put("tm_1", b"{}", RECEIVED)
    spool.failed(spool.oldest(1)[0].seq, "connection refused")
    spool.quarantine("tm_bad", b"{}", "invalid", RECEIVED)
    spool.close()
    other = spool_for(elsewhere, tmp_path / "spool")
    other.put("tm_2", b"{}", RECEIVED)
    other.close()
    result = cli("spool", "status", database_url=here, spool_dir=tmp_path / "spool")
    assert result.returncode == 0, result.stderr
    assert "pending: 1" in result.stdout
    assert f"oldest: {RECEIVED.isoformat()}" in result.stdout
    assert "last error: connection refused" in result.stdout
    assert "quarantine: 1" in result.stdout
    assert "stranded: 1 for erp@db.example:5432/erp" in result.stdout
    assert "another database" in result.stderr


def test_drain_writes_the_spool_with_the_real_arrival_time(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    database.execute(schema_sql())
    document = a_delivery()
    spool = spool_for(database_url, tmp_path / "spool")
    spool.put(document["id"], json.dumps(document).encode(), RECEIVED)
    spool.close()
    result = cli("spool", "drain", database_url=database_url, spool_dir=tmp_path / "spool")
    assert result.returncode == 0, result.stderr
    assert "written: 1, left: 0" in result.stdout
    recu_le = database.value(
        "SELECT recu_le FROM pointage_horodatage WHERE event_id = $1", document["id"]
    )
    assert recu_le == RECEIVED


def test_drain_with_the_database_away_exits_non_zero_and_keeps_everything(
    tmp_path: Path,
) -> None:
    url = f"postgresql://erp@127.0.0.1:{free_port()}/erp"
    spool = spool_for(url, tmp_path / "spool")
    spool.put("tm_1", json.dumps(a_delivery(id="tm_1")).encode(), RECEIVED)
    spool.close()
    result = cli("spool", "drain", database_url=url, spool_dir=tmp_path / "spool")
    assert result.returncode == 1
    assert "1 deliveries left" in result.stderr
    assert spool_for(url, tmp_path / "spool").pending() == 1


def test_requeue_writes_what_is_now_valid_and_keeps_the_rest_with_its_reason(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    database.execute(schema_sql())
    valid = a_delivery()  # as if an older parser had refused it
    spool = spool_for(database_url, tmp_path / "spool")
    spool.quarantine(valid["id"], json.dumps(valid).encode(), "an old parser's doubt", RECEIVED)
    spool.quarantine("tm_bad", b'{"id": "tm_bad", "event": 7}', "invalid", RECEIVED)
    spool.close()
    result = cli("spool", "requeue", database_url=database_url, spool_dir=tmp_path / "spool")
    assert result.returncode == 1  # one is still invalid
    assert "requeued: 1, still in quarantine: 1" in result.stdout
    assert "written: 1, left: 0" in result.stdout
    assert "still invalid: tm_bad" in result.stderr
    recu_le = database.value(
        "SELECT recu_le FROM pointage_horodatage WHERE event_id = $1", valid["id"]
    )
    assert recu_le == RECEIVED  # the real arrival time, not the requeue's
    spool = spool_for(database_url, tmp_path / "spool")
    try:
        assert [q.event_id for q in spool.quarantined_deliveries()] == ["tm_bad"]
        assert spool.pending() == 0
    finally:
        spool.close()
