"""Draining a spool of several chunks: each chunk is read while the one before it is written and
the one before that leaves the spool, and each delivery still meets its own fate, in order."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.db.engine import DatabaseTarget
from service.db.schema import schema_sql
from service.domain.timemoto import ATTENDANCE_DELETED
from service.outbox.spool import Spool
from service.recovery import drainer
from service.recovery.drainer import DrainResult
from service.runtime import Runtime
from tests.support.databases import Database
from tests.support.samples import a_document
from tests.support.service import service_settings

RECEIVED = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_a_spool_of_several_chunks_drains_each_delivery_to_its_fate(
    database_url: str, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage, pointage_evenement, pointage_supprime")
    monkeypatch.setattr(drainer, "BATCH", 4)  # 18 deliveries: 5 chunks
    settings = service_settings(database_url, tmp_path)
    corrected_user = f"corrected-{uuid.uuid4().hex}"
    corrected = a_document(corrected_user, 30)  # chunk 1
    delete = {**corrected, "id": f"tm_{uuid.uuid4().hex}", "event": ATTENDANCE_DELETED}
    punches = [a_document(f"user-{n % 3}", n) for n in range(15)]
    spooled = [
        *[(p["id"], json.dumps(p).encode()) for p in punches[:3]],
        (corrected["id"], json.dumps(corrected).encode()),
        *[(p["id"], json.dumps(p).encode()) for p in punches[3:9]],
        ("tm_no_longer_json", b"{not json"),  # chunk 3: set aside, the rest goes on
        (delete["id"], json.dumps(delete).encode()),  # chunk 3: after its punch's chunk
        *[(p["id"], json.dumps(p).encode()) for p in punches[9:]],
    ]
    assert len(spooled) == 18
    target = DatabaseTarget.from_url(database_url, settings)
    spool = Spool(settings.spool_dir, target.key, target.label)
    try:
        for event_id, body in spooled:
            assert spool.put(event_id, body, RECEIVED)
    finally:
        spool.close()

    async def drain() -> tuple[DrainResult, int, int]:
        runtime = await Runtime.open(settings, schema_auto_apply=False)
        try:
            result = await runtime.recovery.drain_once()
            return result, runtime.spool.pending(), runtime.spool.quarantined()
        finally:
            await runtime.stop()

    result, pending, quarantined = asyncio.run(drain())
    assert result == DrainResult(written=17, left=0)
    assert (pending, quarantined) == (0, 1)
    stored = database.fetch("SELECT event_id FROM pointage_horodatage")
    assert sorted(row["event_id"] for row in stored) == sorted(p["id"] for p in punches)
    statut = "SELECT statut FROM pointage_evenement WHERE event_id = $1"
    assert database.value(statut, delete["id"]) == "applique"
    assert database.value("SELECT count(*) FROM pointage_supprime") == 1
