"""A spool file written by the previous version (French table names) drains after the upgrade.

tests/data/spool-v1.sqlite3 was made by that version's own code: three deliveries waiting (one
with a failed attempt) and one in quarantine.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from service.cli import main
from service.db.engine import DatabaseTarget
from service.db.schema import schema_sql
from service.settings import Settings
from tests.support.databases import Database
from tests.support.webhook import SECRET

V1_SPOOL = Path(__file__).parents[1] / "data" / "spool-v1.sqlite3"


def test_a_spool_file_of_the_previous_version_drains(
    tmp_path: Path,
    database_url: str,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database.execute(schema_sql())
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool_file = spool_dir / "spool.sqlite3"
    shutil.copy(V1_SPOOL, spool_file)
    settings = Settings(webhook_secrets=(SECRET,), database_url=database_url)
    target = DatabaseTarget.from_url(database_url, settings)
    with sqlite3.connect(spool_file) as old:  # as if it had been written for this database
        old.execute(
            "UPDATE livraison SET database_key = ?, database_label = ?", (target.key, target.label)
        )
    old.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TIMEMOTO_SECRET", SECRET)
    monkeypatch.setenv("SPOOL_DIR", str(spool_dir))

    assert main(["spool", "drain"]) == 0

    assert "written: 3, left: 0" in capsys.readouterr().out
    stored = database.fetch("SELECT event_id, recu_le FROM pointage_horodatage ORDER BY event_id")
    assert [row["event_id"] for row in stored] == [f"tm_spool_v1_{i}" for i in range(3)]
    assert stored[0]["recu_le"].isoformat() == "2026-11-02T08:00:00+00:00"  # arrival time kept
    with sqlite3.connect(spool_file) as upgraded:
        tables = {name for (name,) in upgraded.execute("SELECT name FROM sqlite_master")}
        quarantined = upgraded.execute("SELECT event_id, reason FROM quarantine").fetchall()
    upgraded.close()
    assert {"delivery", "quarantine"} <= tables
    assert not {"livraison", "quarantaine"} & tables
    assert quarantined == [
        ("tm_bad", "not a valid TimeMoto delivery: Object missing required field `data`")
    ]
