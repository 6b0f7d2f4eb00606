"""The durable local spool: acknowledged deliveries wait here while the database is away.

An embedded SQLite file under SPOOL_DIR, in WAL mode with synchronous=FULL, so a delivery is on
disk before its 202 answer and survives a crash or a `kill -9`. Each row keeps the raw body as
received, its event id, the key of the database it was written for (a spool only ever drains into
that database), its arrival time (it becomes `pointage.received_at`), its attempts and last error.
A row leaves the spool only after the database has committed it.

The quarantine keeps signed deliveries that failed validation (422), with their reason, so that
they can be re-processed once the cause is understood.

The methods are synchronous and short; async callers run them with `asyncio.to_thread`.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SPOOL_FILE = "spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    database_key TEXT NOT NULL,
    database_label TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (database_key, event_id)
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""

# Spool files written before the tables had English names (livraison, quarantaine, recu_le):
# their rows move to the new tables, keeping their order, in the transaction that creates them.
_UPGRADE = """
INSERT INTO delivery (seq, event_id, database_key, database_label, body, received_at, attempts,
                      last_error)
SELECT seq, event_id, database_key, database_label, body, recu_le, attempts, last_error
  FROM livraison;
INSERT INTO quarantine (seq, event_id, body, reason, received_at)
SELECT seq, event_id, body, reason, recu_le FROM quarantaine;
DROP TABLE livraison;
DROP TABLE quarantaine;
"""


class SpoolError(Exception):
    """The spool could not take or give a delivery (disk full, unwritable directory, ...)."""


@dataclass(frozen=True, slots=True)
class SpooledDelivery:
    seq: int
    event_id: str
    body: bytes
    received_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Quarantined:
    seq: int
    event_id: str | None
    body: bytes
    reason: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Stranded:
    """Deliveries spooled for another database than this one."""

    database_label: str
    pending: int


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    pending: int
    oldest: datetime | None
    last_error: str | None
    quarantined: int
    stranded: list[Stranded]


class Spool:
    """The spool file of `directory`, seen from one database (`database_key`)."""

    def __init__(self, directory: Path, database_key: str, database_label: str) -> None:
        self.path = directory / SPOOL_FILE
        self.database_key = database_key
        self.database_label = database_label
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")  # `spool drain` may run beside us
            self._create_tables()
            # The ids waiting for this database, in memory: the webhook asks on every delivery
            # whether one is already queued, and should not need a thread and a query for it.
            self._waiting = {
                str(event_id)
                for (event_id,) in self._db.execute(
                    "SELECT event_id FROM delivery WHERE database_key = ?", (database_key,)
                )
            }
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc

    def _create_tables(self) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                self._db.execute(statement)
            old = self._db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'livraison'"
            ).fetchone()
            if old and old[0]:
                for statement in _UPGRADE.split(";"):
                    self._db.execute(statement)

    def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {exc}") from exc

    def put(self, event_id: str, body: bytes, received_at: datetime) -> bool:
        """Keep a delivery (synced to disk on return); False if that id is already waiting."""
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
        """Forget deliveries the database has committed, in one transaction."""
        if not seqs:
            return
        marks = ", ".join("?" * len(seqs))
        removed = self._run(
            f"DELETE FROM delivery WHERE seq IN ({marks}) RETURNING event_id", *seqs
        )
        self._waiting.difference_update(str(event_id) for (event_id,) in removed)

    def failed(self, seq: int, error: str) -> None:
        self._run(
            "UPDATE delivery SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
            error,
            seq,
        )

    def quarantine(self, event_id: str | None, body: bytes, reason: str, at: datetime) -> None:
        self._run(
            "INSERT INTO quarantine (event_id, body, reason, received_at) VALUES (?, ?, ?, ?)",
            event_id,
            body,
            reason,
            at.isoformat(),
        )

    def move_to_quarantine(self, delivery: SpooledDelivery, reason: str) -> None:
        """A spooled delivery that can never be written: keep it aside, in one transaction."""
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute(
                        "INSERT INTO quarantine (event_id, body, reason, received_at)"
                        " VALUES (?, ?, ?, ?)",
                        (
                            delivery.event_id,
                            delivery.body,
                            reason,
                            delivery.received_at.isoformat(),
                        ),
                    )
                    self._db.execute("DELETE FROM delivery WHERE seq = ?", (delivery.seq,))
                self._waiting.discard(delivery.event_id)
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {exc}") from exc

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
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute(
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
                    self._db.execute("DELETE FROM quarantine WHERE seq = ?", (item.seq,))
                self._waiting.add(event_id)
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {exc}") from exc

    def quarantined(self) -> int:
        (row,) = self._run("SELECT count(*) FROM quarantine")
        return int(str(row[0]))

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
        stranded = self._run(
            "SELECT database_label, count(*) FROM delivery WHERE database_key <> ?"
            " GROUP BY database_key, database_label ORDER BY database_label",
            self.database_key,
        )
        count, oldest = summary
        return SpoolStatus(
            pending=int(str(count)),
            oldest=None if oldest is None else datetime.fromisoformat(str(oldest)),
            last_error=str(last[0][0]) if last else None,
            quarantined=self.quarantined(),
            stranded=[Stranded(str(label), int(str(n))) for label, n in stranded],
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
