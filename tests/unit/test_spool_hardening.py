"""The spool's own guarantees, on a real SQLite file: private files, a small cost per delivery,
a bounded quarantine, stranded deliveries moved on the operator's word."""

from __future__ import annotations

import json
import logging
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.outbox.spool import SPOOL_FILE, Spool, SpoolError, check_spool_dir
from service.outbox.spool_file import RESERVE_FILE
from tests.support.samples import sample_delivery

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def a_body() -> tuple[str, bytes]:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    return document["id"], json.dumps(document).encode()


def test_spool_files_are_private_and_an_older_open_file_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o755)
    (folder / SPOOL_FILE).touch(mode=0o644)
    (folder / SPOOL_FILE).chmod(0o644)
    spool = Spool(folder, "db-a", "erp@db/erp")
    spool.put(*a_body(), AT)
    try:
        assert mode(folder) == 0o700
        for name in (SPOOL_FILE, SPOOL_FILE + "-wal", SPOOL_FILE + "-shm", RESERVE_FILE):
            assert mode(folder / name) == 0o600, name
    finally:
        spool.close()


def test_a_new_spool_folder_is_made_0700(tmp_path: Path) -> None:
    Spool(tmp_path / "a" / "spool", "db-a", "x").close()
    assert mode(tmp_path / "a" / "spool") == 0o700


def test_a_spool_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SpoolError) as refused:
        check_spool_dir(blocker / "spool")
    assert "SPOOL_DIR" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_delivery_costs_its_body_plus_less_than_2_kib(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "db-a", "erp@db.example:5432/erp")
    files = [tmp_path / SPOOL_FILE, tmp_path / (SPOOL_FILE + "-wal")]

    def used() -> int:
        return sum(f.stat().st_size for f in files if f.exists())

    before, bodies, count = used(), 0, 300
    for _ in range(count):
        event_id, body = a_body()
        bodies += len(body)
        spool.put(event_id, body, AT)
    per_delivery = (used() - before) / count
    spool.close()
    assert per_delivery <= bodies / count + 2048, per_delivery


def test_a_drained_spool_gives_its_room_back_in_few_steps(tmp_path: Path) -> None:
    """After a long outage the file shrinks back, a few large steps at a time (each step once
    gave back one page: compacting took longer than draining)."""
    spool = Spool(tmp_path, "db-a", "erp@db.example:5432/erp")
    path = tmp_path / SPOOL_FILE
    empty = path.stat().st_size
    for _ in range(2_000):
        spool.put(*a_body(), AT)
    full = path.stat().st_size
    spool.remove_many([item.seq for item in spool.oldest(2_000)])
    statements: list[str] = []
    spool._db.set_trace_callback(statements.append)
    try:
        spool.compact()
    finally:
        spool._db.set_trace_callback(None)
        spool.close()
    steps = [s for s in statements if "incremental_vacuum" in s]
    assert full > empty + 2_000 * 1_000
    assert path.stat().st_size <= empty + 64 * 1024, (empty, full, path.stat().st_size)
    assert 1 <= len(steps) <= 4, len(steps)


def test_the_quarantine_evicts_its_oldest_past_either_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, "db-a", "x", quarantine_max_count=3, quarantine_max_bytes=10_000)
    try:
        for n in range(5):
            spool.quarantine(f"tm_{n}", b"{}", "invalid", AT)
        assert [q.event_id for q in spool.quarantined_deliveries()] == ["tm_2", "tm_3", "tm_4"]
        assert spool.evicted == 2
        spool.quarantine("tm_big", b"x" * 9_999, "invalid", AT)  # over the bytes: older ones go
        assert [q.event_id for q in spool.quarantined_deliveries()] == ["tm_big"]
        assert spool.status().quarantine_bytes == 9_999
    finally:
        spool.close()
    evictions = [r for r in caplog.records if "quarantine full" in r.getMessage()]
    assert evictions and all(r.levelno == logging.WARNING for r in evictions)
    assert "tm_0" in evictions[0].getMessage()


def test_stranded_deliveries_move_only_when_asked_and_a_duplicate_goes(tmp_path: Path) -> None:
    wrong = Spool(tmp_path, "key-wrong", "erp@db:5432/erp_typo")
    for event_id in ("tm_1", "tm_2", "tm_3"):
        wrong.put(event_id, b"{}", AT)
    wrong.close()
    right = Spool(tmp_path, "key-right", "erp@db:5432/erp")
    try:
        right.put("tm_3", b"{}", AT)  # TimeMoto retried it after the fix
        (stranded,) = right.stranded()
        assert (stranded.database_label, stranded.pending, stranded.oldest) == (
            "erp@db:5432/erp_typo",
            3,
            AT,
        )
        assert right.pending() == 1
        assert right.status().stranded_count == 3
        (done,) = right.retarget()
        assert (done.moved, done.duplicates) == (2, 1)
        assert right.stranded() == []
        assert [d.event_id for d in right.oldest(10)] == ["tm_1", "tm_2", "tm_3"]  # arrival order
    finally:
        right.close()
