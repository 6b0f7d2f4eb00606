"""The durable local spool: acknowledged deliveries wait here while the database is away.

An embedded SQLite file under SPOOL_DIR, in WAL mode with synchronous=FULL, so a delivery is on
disk before its 202 answer and survives a crash or a `kill -9`. Each row keeps the raw body as
received, its event id, the key of the database it was written for (a spool only ever drains into
that database), its arrival time (it becomes `pointage.received_at`), its attempts and last error.
A row leaves the spool only after the database has committed it.

The quarantine keeps signed deliveries that failed validation (422), with their reason, so that
they can be re-processed once the cause is understood. It is bounded in count and bytes: past
either bound the oldest are evicted, with a log line and a counter.

A full disk: SQLite needs free space to delete a row (the WAL grows before the file shrinks), so a
spool that filled the disk could not drain. The spool therefore keeps a reserve file
(`spool.reserve`, RESERVE_BYTES) that it deletes when a write meant to drain fails for want of
space, and it takes a new delivery only while that reserve exists. Freed pages go back to the
filesystem (auto_vacuum=INCREMENTAL, a truncating checkpoint), and the reserve is made again as
soon as there is room. The WAL is kept small (checkpoint every WAL_PAGES pages, truncated to
WAL_BYTES), so a delivery costs its body plus a few hundred bytes.

Files are 0600 and the folder 0700: bodies hold employees' names.

The methods are synchronous and short; async callers run them with `asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.sqlite3"
RESERVE_FILE = "spool.reserve"
RESERVE_BYTES = 256 * 1024  # more than the WAL can grow between two checkpoints
PAGE_BYTES = 4096  # SQLite's default page size, which the spool keeps
VACUUM_STEP_MIN, VACUUM_STEP_MAX = 16, 4096  # pages given back per compacting step
WAL_PAGES = 32  # checkpoint after this many pages (4 KiB each) in the WAL
WAL_BYTES = WAL_PAGES * 4096  # the WAL file is truncated back to this after a checkpoint
DEFAULT_QUARANTINE_MAX_COUNT = 10_000
DEFAULT_QUARANTINE_MAX_BYTES = 64 * 1024 * 1024

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
-- The drainer reads a database's deliveries in order of arrival, a chunk at a time: without it,
-- each chunk read and sorted every delivery left (50,000 after a long outage: most of its time).
CREATE INDEX IF NOT EXISTS delivery_database_seq ON delivery (database_key, seq);
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

T = TypeVar("T")


class SpoolError(Exception):
    """The spool could not take or give a delivery (disk full, unwritable directory, ...)."""


class SpoolFull(SpoolError):
    """No room on the spool's filesystem (its reserve could not be kept)."""


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
    oldest: datetime | None = None
    database_key: str = ""


@dataclass(frozen=True, slots=True)
class Retargeted:
    """What `retarget` did for one other database."""

    database_label: str
    moved: int
    duplicates: int  # already waiting here under the same id: the stranded copy went


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    pending: int
    oldest: datetime | None
    last_error: str | None
    quarantined: int
    stranded: list[Stranded]
    quarantine_bytes: int = 0

    @property
    def stranded_count(self) -> int:
        return sum(s.pending for s in self.stranded)


def _is_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code == sqlite3.SQLITE_FULL or code & 0xFF == sqlite3.SQLITE_IOERR):
        return True
    return "disk is full" in str(exc) or "disk I/O error" in str(exc)


def check_spool_dir(directory: Path) -> None:
    """The spool's folder exists (made 0700 if new) and is writable, or SpoolError in one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        message = f"cannot create the spool folder SPOOL_DIR={directory}: {_reason(exc)}"
        raise SpoolError(message) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SpoolError(f"the spool folder SPOOL_DIR={directory} is not writable by this user")


def _private_file(path: Path) -> None:
    """Create `path` readable by its owner only, or tighten it if it exists."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


class Spool:
    """The spool file of `directory`, seen from one database (`database_key`)."""

    def __init__(
        self,
        directory: Path,
        database_key: str,
        database_label: str,
        *,
        quarantine_max_count: int = DEFAULT_QUARANTINE_MAX_COUNT,
        quarantine_max_bytes: int = DEFAULT_QUARANTINE_MAX_BYTES,
    ) -> None:
        self.directory = directory
        self.path = directory / SPOOL_FILE
        self.reserve_path = directory / RESERVE_FILE
        self.database_key = database_key
        self.database_label = database_label
        self.quarantine_max_count = quarantine_max_count
        self.quarantine_max_bytes = quarantine_max_bytes
        self.evicted = 0  # quarantined deliveries evicted by the bounds, since this process began
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)
            new = not self.path.exists() or self.path.stat().st_size == 0
            _private_file(self.path)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if new:  # before the first table: freed pages can then go back to the filesystem
                self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_BYTES}")
            self._db.execute("PRAGMA busy_timeout=5000")  # `spool drain` may run beside us
            self._create_tables()
            for suffix in ("-wal", "-shm"):  # SQLite gives them the file's mode; older ones 0644
                side = self.path.with_name(self.path.name + suffix)
                if side.exists() and side.stat().st_mode & 0o077:
                    side.chmod(0o600)
            # The ids waiting for this database, in memory: the webhook asks on every delivery
            # whether one is already queued, and should not need a thread and a query for it.
            self._waiting = {
                str(event_id)
                for (event_id,) in self._db.execute(
                    "SELECT event_id FROM delivery WHERE database_key = ?", (database_key,)
                )
            }
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool {self.path}: {_reason(exc)}") from exc
        self.ensure_reserve()

    def _create_tables(self) -> None:
        upgraded = False
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
                upgraded = True
        (mode,) = self._db.execute("PRAGMA auto_vacuum").fetchone()
        if upgraded or mode != 2:  # an older file: rewrite it once so that it can shrink
            try:
                self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self._db.execute("VACUUM")
            except sqlite3.Error as exc:  # no room for the copy, say: it works unshrunk
                log.warning("spool %s not compacted: %s", self.path, exc)

    # -- the reserve ----------------------------------------------------------------------------

    def ensure_reserve(self) -> bool:
        """Make the reserve file if it is missing; False when there is no room for it."""
        if self.reserve_path.exists() and self.reserve_path.stat().st_size >= RESERVE_BYTES:
            return True
        try:
            fd = os.open(self.reserve_path, os.O_CREAT | os.O_WRONLY, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, RESERVE_BYTES)  # real blocks, not a sparse file
                except OSError as exc:
                    if exc.errno not in (95, 22):  # EOPNOTSUPP, EINVAL: write zeros instead
                        raise
                    os.pwrite(fd, bytes(RESERVE_BYTES), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            with contextlib.suppress(OSError):
                self.reserve_path.unlink()
            return False
        return True

    def _release_reserve(self) -> bool:
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        log.warning(
            "spool %s: the disk is full; its reserve (%d KiB) is released so that the spool can "
            "drain; new deliveries are refused (503) until there is room again",
            self.path,
            RESERVE_BYTES // 1024,
        )
        return True

    def _draining(self, work: Callable[[], T], small: Callable[[], T] | None = None) -> T:
        """A write that makes room (delete, move): on a full disk, release the reserve and retry,
        as `small` steps if given (one row per transaction: the WAL never has to grow much)."""
        with self._lock:
            try:
                return work()
            except sqlite3.Error as exc:
                if not _is_full(exc):
                    raise SpoolError(f"spool {self.path}: {_reason(exc)}") from exc
                self._release_reserve()  # it may be gone already: then the small steps may do
            try:
                return (small or work)()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {_reason(exc)}") from exc

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); the caller holds the lock."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

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

    def compact(self) -> None:
        """Give freed pages back to the filesystem, then make the reserve again if it went."""

        def shrink() -> None:
            # A checkpoint after each step, not every WAL_PAGES pages inside it (each one an
            # fsync: hundreds of them for a long outage's spool).
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            try:
                while True:
                    (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
                    if not free:
                        break
                    # executescript runs the pragma to its end; execute() stops after its
                    # first step, which gives back one page, whatever the number asked.
                    self._db.executescript(f"PRAGMA incremental_vacuum({self._vacuum_step()});")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")

        self._draining(shrink)
        if not self.reserve_path.exists() and self.ensure_reserve():
            log.info("spool %s: room again on its filesystem; reserve restored", self.path)

    def _vacuum_step(self) -> int:
        """Pages to give back per step: each step's pages pass through the WAL, so as many as a
        quarter of the filesystem's free room holds, from 16 (well within the reserve, on a
        full disk) to 4,096 (16 MiB: a long outage's spool is given back in a few steps)."""
        try:
            room = shutil.disk_usage(self.path.parent).free
        except OSError:
            room = 0
        return max(VACUUM_STEP_MIN, min(VACUUM_STEP_MAX, room // 4 // PAGE_BYTES))

    # -- other databases ------------------------------------------------------------------------

    def stranded(self) -> list[Stranded]:
        """Deliveries waiting for another database, one entry per database."""
        rows = self._run(
            "SELECT database_key, database_label, count(*), min(received_at) FROM delivery"
            " WHERE database_key <> ? GROUP BY database_key, database_label"
            " ORDER BY database_label",
            self.database_key,
        )
        return [
            Stranded(str(label), int(str(n)), datetime.fromisoformat(str(oldest)), str(key))
            for key, label, n, oldest in rows
        ]

    def stranded_deliveries(self, limit: int) -> list[tuple[str, str, datetime]]:
        """(database label, event id, arrival) of the first stranded deliveries."""
        rows = self._run(
            "SELECT database_label, event_id, received_at FROM delivery WHERE database_key <> ?"
            " ORDER BY seq LIMIT ?",
            self.database_key,
            limit,
        )
        return [(str(a), str(b), datetime.fromisoformat(str(c))) for a, b, c in rows]

    def retarget(self) -> list[Retargeted]:
        """Every stranded delivery now waits for this database (the operator's decision).

        An id already waiting here is the same delivery: its stranded copy goes. One transaction.
        """
        stranded = self.stranded()

        def move() -> list[Retargeted]:
            done = []
            with self._transaction() as db:
                for other in stranded:
                    moved = db.execute(
                        "UPDATE OR IGNORE delivery SET database_key = ?, database_label = ?"
                        " WHERE database_key = ?",
                        (self.database_key, self.database_label, other.database_key),
                    ).rowcount
                    duplicates = db.execute(
                        "DELETE FROM delivery WHERE database_key = ?", (other.database_key,)
                    ).rowcount
                    done.append(Retargeted(other.database_label, moved, duplicates))
            return done

        done = self._draining(move)
        self._waiting = {
            str(event_id)
            for (event_id,) in self._run(
                "SELECT event_id FROM delivery WHERE database_key = ?", self.database_key
            )
        }
        return done

    # -- the quarantine -------------------------------------------------------------------------

    def quarantine(self, event_id: str | None, body: bytes, reason: str, at: datetime) -> None:
        def insert() -> list[str | None]:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO quarantine (event_id, body, reason, received_at)"
                    " VALUES (?, ?, ?, ?)",
                    (event_id, body, reason, at.isoformat()),
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
                    "INSERT INTO quarantine (event_id, body, reason, received_at)"
                    " VALUES (?, ?, ?, ?)",
                    (delivery.event_id, delivery.body, reason, delivery.received_at.isoformat()),
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

    def quarantined(self) -> int:
        (row,) = self._run("SELECT count(*) FROM quarantine")
        return int(str(row[0]))

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
        )

    @contextlib.contextmanager
    def draining(self) -> Iterator[bool]:
        """Whether this process may drain now: one drainer at a time per spool file, whatever the
        number of workers sharing it (an OS lock: a killed process lets go of it at once)."""
        with (self.path.parent / "drain.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False  # another worker is draining: it writes these too
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def oldest_age_s(status: SpoolStatus, now: datetime | None = None) -> float | None:
    """Seconds since the oldest delivery waiting for this database arrived; None when none."""
    if status.oldest is None:
        return None
    return round(((now or datetime.now(UTC)) - status.oldest).total_seconds(), 1)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc)
