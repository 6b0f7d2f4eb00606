"""The spool's quarantine: signed deliveries that failed validation (422), or that the database
refused for their content, kept with their reason so that they can be re-processed once the cause
is understood (`python -m service spool requeue`). Bounded in count and bytes: past either bound
the oldest are evicted, with a log line and a counter (`evicted`)."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from service.outbox.spool_file import SpooledDelivery, SpoolError, SpoolFile, _reason

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Quarantined:
    seq: int
    event_id: str | None
    body: bytes
    reason: str
    received_at: datetime


class Quarantine(SpoolFile):
    """The quarantine's jobs on the spool file (a part of `Spool`)."""

    def quarantine(self, event_id: str | None, body: bytes, reason: str, at: datetime) -> None:
        def insert() -> list[str | None]:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO quarantine (event_id, body, reason, received_at, quarantined_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (event_id, body, reason, at.isoformat(), _now()),
                )
                return self._evict(db)

        with self._lock:
            try:
                evicted = insert()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {_reason(exc)}") from exc
        self._evicted(evicted)

    def move_to_quarantine(self, delivery: SpooledDelivery, reason: str) -> None:
        """A spooled delivery that can never be written: keep it aside, in one transaction."""

        def move() -> list[str | None]:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO quarantine (event_id, body, reason, received_at, quarantined_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        delivery.event_id,
                        delivery.body,
                        reason,
                        delivery.received_at.isoformat(),
                        _now(),
                    ),
                )
                db.execute("DELETE FROM delivery WHERE seq = ?", (delivery.seq,))
                return self._evict(db)

        self._evicted(self._draining(move))
        self._waiting.discard(delivery.event_id)

    def _evict(self, db: sqlite3.Connection) -> list[str | None]:
        """Oldest first, until the quarantine is within both bounds (the newest always stays)."""
        (count, size) = db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM quarantine"
        ).fetchone()
        evicted: list[str | None] = []
        if count <= self.quarantine_max_count and size <= self.quarantine_max_bytes:
            return evicted
        rows = db.execute("SELECT seq, event_id, length(body) FROM quarantine ORDER BY seq")
        for seq, event_id, length in rows.fetchall():
            if count <= 1 or (
                count <= self.quarantine_max_count and size <= self.quarantine_max_bytes
            ):
                break
            db.execute("DELETE FROM quarantine WHERE seq = ?", (seq,))
            evicted.append(event_id)
            count, size = count - 1, size - length
        return evicted

    def _evicted(self, event_ids: list[str | None]) -> None:
        if not event_ids:
            return
        self.evicted += len(event_ids)
        shown = ", ".join(str(e) for e in event_ids[:10]) + (" …" if len(event_ids) > 10 else "")
        log.warning(
            "quarantine full (QUARANTINE_MAX_COUNT=%d, QUARANTINE_MAX_BYTES=%d): the oldest %d "
            "evicted (%s)",
            self.quarantine_max_count,
            self.quarantine_max_bytes,
            len(event_ids),
            shown,
        )

    def quarantined_deliveries(self) -> list[Quarantined]:
        rows = self._run(
            "SELECT seq, event_id, body, reason, received_at FROM quarantine ORDER BY seq"
        )
        return [
            Quarantined(
                seq=int(str(seq)),
                event_id=None if event_id is None else str(event_id),
                body=bytes(body),  # type: ignore[call-overload]
                reason=str(reason),
                received_at=datetime.fromisoformat(str(received_at)),
            )
            for seq, event_id, body, reason, received_at in rows
        ]

    def release(self, item: Quarantined, event_id: str) -> None:
        """Move a quarantined delivery back to the spool (for this database), in one transaction.

        Its arrival time is kept; if that id is already waiting, the quarantined copy just goes.
        """
        with self._lock:
            try:
                with self._transaction() as db:
                    db.execute(
                        "INSERT INTO delivery (event_id, database_key, database_label, body,"
                        " received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (
                            event_id,
                            self.database_key,
                            self.database_label,
                            item.body,
                            item.received_at.isoformat(),
                        ),
                    )
                    db.execute("DELETE FROM quarantine WHERE seq = ?", (item.seq,))
                self._waiting.add(event_id)
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {_reason(exc)}") from exc

    def quarantined_since(self, since: datetime) -> int:
        """Deliveries that went to the quarantine at or after `since`."""
        (row,) = self._run(
            "SELECT count(*) FROM quarantine WHERE coalesce(quarantined_at, received_at) >= ?",
            since.isoformat(),
        )
        return int(str(row[0]))

    def quarantined(self) -> int:
        (row,) = self._run("SELECT count(*) FROM quarantine")
        return int(str(row[0]))

    # -- the whole picture ----------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()
