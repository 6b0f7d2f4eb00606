"""The spool on disk: durable across reopening, ordered, idempotent by id, with a quarantine
(surviving a killed process is in system/test_spool_kill.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.outbox.spool import Spool, SpoolError

AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def spool(directory: Path, key: str = "db-a") -> Spool:
    return Spool(directory, key, f"erp@host/{key}")


def test_a_delivery_survives_reopening_with_its_bytes_and_arrival_time(tmp_path: Path) -> None:
    first = spool(tmp_path)
    body = b'{"id": "tm_1",  "event": "attendance.inserted"}'  # the bytes as received
    assert first.put("tm_1", body, AT) is True
    first.close()
    again = spool(tmp_path)
    (item,) = again.oldest(10)
    assert (item.event_id, item.body, item.received_at) == ("tm_1", body, AT)
    assert again.pending() == 1


def test_deliveries_come_out_in_order_of_arrival(tmp_path: Path) -> None:
    store = spool(tmp_path)
    ids = [f"tm_{n}" for n in (5, 1, 9, 3)]
    for n, event_id in enumerate(ids):
        store.put(event_id, b"{}", AT + timedelta(seconds=n))
    assert [item.event_id for item in store.oldest(10)] == ids
    first_two = store.oldest(2)
    assert [item.event_id for item in store.oldest(10, after_seq=first_two[-1].seq)] == ids[2:]


def test_the_same_id_is_kept_once(tmp_path: Path) -> None:
    store = spool(tmp_path)
    assert store.put("tm_1", b"{}", AT) is True
    assert store.put("tm_1", b"{}", AT) is False
    assert store.pending() == 1
    assert store.contains("tm_1") and not store.contains("tm_2")


def test_a_row_leaves_only_when_removed_and_failures_are_counted(tmp_path: Path) -> None:
    store = spool(tmp_path)
    store.put("tm_1", b"{}", AT)
    (item,) = store.oldest(1)
    store.failed(item.seq, "the database did not answer in time")
    store.failed(item.seq, "connection refused")
    (item,) = store.oldest(1)
    assert (item.attempts, item.last_error) == (2, "connection refused")
    assert store.status().last_error == "connection refused"
    store.remove(item.seq)
    assert store.pending() == 0


def test_each_database_sees_only_its_own_deliveries(tmp_path: Path) -> None:
    spool(tmp_path, "db-a").put("tm_1", b"{}", AT)
    other = spool(tmp_path, "db-b")
    assert other.pending() == 0 and other.oldest(10) == []
    assert other.put("tm_1", b"{}", AT) is True  # the same id, for another database
    status = other.status()
    assert [(s.database_label, s.pending) for s in status.stranded] == [("erp@host/db-a", 1)]


def test_the_quarantine_keeps_invalid_deliveries_with_their_reason(tmp_path: Path) -> None:
    store = spool(tmp_path)
    store.quarantine("tm_bad", b'{"id": "tm_bad"}', "`data.timeZone` is not an IANA zone", AT)
    store.put("tm_2", b"not json", AT)
    (item,) = store.oldest(1)
    store.move_to_quarantine(item, "body is not valid JSON")
    assert store.quarantined() == 2
    assert store.pending() == 0
    assert store.status().quarantined == 2


def test_status_says_how_old_the_oldest_is(tmp_path: Path) -> None:
    store = spool(tmp_path)
    store.put("tm_1", b"{}", AT)
    store.put("tm_2", b"{}", AT + timedelta(hours=1))
    status = store.status()
    assert (status.pending, status.oldest, status.quarantined) == (2, AT, 0)


def test_a_closed_or_unusable_spool_raises_spool_error(tmp_path: Path) -> None:
    store = spool(tmp_path)
    store.close()
    with pytest.raises(SpoolError):
        store.put("tm_1", b"{}", AT)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SpoolError):
        spool(tmp_path / "a-file")


def test_release_moves_a_quarantined_delivery_back_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "db-a", "label")
    spool.quarantine("tm_q", b'{"id": "tm_q"}', "doubt", AT)
    spool.put("tm_q", b'{"id": "tm_q"}', AT)  # that id is already waiting too
    (item,) = spool.quarantined_deliveries()
    assert (item.event_id, item.reason, item.received_at) == ("tm_q", "doubt", AT)
    spool.release(item, "tm_q")
    assert spool.quarantined() == 0
    assert [d.event_id for d in spool.oldest(10)] == ["tm_q"]
    spool.close()
