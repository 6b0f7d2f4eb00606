"""The durable local spool: acknowledged deliveries wait here while the database is away.

Each row keeps the raw body as received, its event id, the key of the database it was written for
(a spool only ever drains into that database), its arrival time (it becomes `recu_le`), its
attempts and last error. A row leaves the spool only after the database has committed it.

`Spool` is the whole: this module holds its deliveries' jobs; the file, its durability and its
reserve are spool_file.py; the quarantine quarantine.py; other databases' deliveries stranded.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.outbox.quarantine import Quarantine, Quarantined
from service.outbox.spool_file import (
    RESERVE_BYTES,
    SPOOL_FILE,
    SpooledDelivery,
    SpoolError,
    SpoolFull,
    check_spool_dir,
)
from service.outbox.stranded import Retargeted, Stranded, StrandedDeliveries

__all__ = [
    "SPOOL_FILE",
    "Quarantined",
    "Retargeted",
    "Spool",
    "SpoolError",
    "SpoolFull",
    "SpoolStatus",
    "SpooledDelivery",
    "Stranded",
    "check_spool_dir",
    "oldest_age_s",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    pending: int
    oldest: datetime | None
    last_error: str | None
    quarantined: int
    stranded: list[Stranded]
    quarantine_bytes: int = 0
    quarantined_24h: int = 0  # went to the quarantine in the last 24 hours

    @property
    def stranded_count(self) -> int:
        return sum(s.pending for s in self.stranded)


class Spool(Quarantine, StrandedDeliveries):
    """The spool file of a directory, seen from one database: its deliveries, its quarantine,
    and the deliveries it holds for other databases."""

    # -- deliveries -----------------------------------------------------------------------------

    def put(self, event_id: str, body: bytes, received_at: datetime) -> bool:
        """Keep a delivery (synced to disk on return); False if that id is already waiting.

        Refused (SpoolFull) while the reserve cannot be kept: the spool must always be able to
        drain what it took.
        """
        if not self.ensure_reserve():
            raise SpoolFull(
                f"spool {self.path}: no room left on its filesystem (the spool keeps a reserve of "
                f"{RESERVE_BYTES // 1024} KiB so that it can always drain)"
            )
        rows = self._run(
            "INSERT INTO delivery (event_id, database_key, database_label, body, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
            event_id,
            self.database_key,
            self.database_label,
            body,
            received_at.isoformat(),
        )
        self._waiting.add(event_id)
        return bool(rows)

    def may_hold(self, event_id: str) -> bool:
        """Cheap, on the event loop: False means this process never spooled that id (another
        process may have: then the write finds it a duplicate). True: ask `contains`."""
        return event_id in self._waiting

    def contains(self, event_id: str) -> bool:
        return bool(
            self._run(
                "SELECT 1 FROM delivery WHERE database_key = ? AND event_id = ?",
                self.database_key,
                event_id,
            )
        )

    def pending(self) -> int:
        """Deliveries waiting for this database."""
        (row,) = self._run(
            "SELECT count(*) FROM delivery WHERE database_key = ?", self.database_key
        )
        return int(str(row[0]))

    def oldest(self, limit: int, after_seq: int = 0) -> list[SpooledDelivery]:
        """The next deliveries for this database, in order of arrival."""
        rows = self._run(
            "SELECT seq, event_id, body, received_at, attempts, last_error FROM delivery"
            " WHERE database_key = ? AND seq > ? ORDER BY seq LIMIT ?",
            self.database_key,
            after_seq,
            limit,
        )
        return [
            SpooledDelivery(
                seq=int(str(seq)),
                event_id=str(event_id),
                body=bytes(body),  # type: ignore[call-overload]
                received_at=datetime.fromisoformat(str(received_at)),
                attempts=int(str(attempts)),
                last_error=None if last_error is None else str(last_error),
            )
            for seq, event_id, body, received_at, attempts, last_error in rows
        ]

    def remove(self, seq: int) -> None:
        """Forget a delivery; only once the database has committed it."""
        self.remove_many([seq])

    def remove_many(self, seqs: list[int]) -> None:
        """Forget deliveries the database has committed, in one transaction.

        It makes room: on a full disk it may use the reserve.
        """
        if not seqs:
            return

        def delete(batch: list[int]) -> list[tuple[object, ...]]:
            marks = ", ".join("?" * len(batch))
            sql = f"DELETE FROM delivery WHERE seq IN ({marks}) RETURNING event_id"
            return self._db.execute(sql, batch).fetchall()

        def one_by_one() -> list[tuple[object, ...]]:
            return [row for seq in seqs for row in delete([seq])]

        removed = self._draining(lambda: delete(seqs), one_by_one)
        self._waiting.difference_update(str(event_id) for (event_id,) in removed)

    def failed(self, seq: int, error: str) -> None:
        """Note a failed attempt; best effort (on a full disk the note is skipped, not the row)."""
        try:
            self._run(
                "UPDATE delivery SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                error,
                seq,
            )
        except SpoolError as exc:
            log.warning("%s (attempt of spooled delivery %d not counted)", exc, seq)

    # -- the whole picture ----------------------------------------------------------------------

    def status(self) -> SpoolStatus:
        (summary,) = self._run(
            "SELECT count(*), min(received_at) FROM delivery WHERE database_key = ?",
            self.database_key,
        )
        last = self._run(
            "SELECT last_error FROM delivery WHERE database_key = ? AND last_error IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1",
            self.database_key,
        )
        (quarantine,) = self._run("SELECT count(*), coalesce(sum(length(body)), 0) FROM quarantine")
        count, oldest = summary
        return SpoolStatus(
            pending=int(str(count)),
            oldest=None if oldest is None else datetime.fromisoformat(str(oldest)),
            last_error=str(last[0][0]) if last else None,
            quarantined=int(str(quarantine[0])),
            stranded=self.stranded(),
            quarantine_bytes=int(str(quarantine[1])),
            quarantined_24h=self.quarantined_since(datetime.now(UTC) - timedelta(hours=24)),
        )


def oldest_age_s(status: SpoolStatus, now: datetime | None = None) -> float | None:
    """Seconds since the oldest delivery waiting for this database arrived; None when none."""
    if status.oldest is None:
        return None
    return round(((now or datetime.now(UTC)) - status.oldest).total_seconds(), 1)
