"""The spool's file: an SQLite database under SPOOL_DIR, durable before an answer, and the
reserve that lets it drain on a full disk.

WAL mode with synchronous=FULL, so a delivery is on disk before its 202 answer and survives a
crash or a `kill -9`. A full disk: SQLite needs free space to delete a row (the WAL grows before
the file shrinks), so a spool that filled the disk could not drain. The file therefore keeps a
reserve (`spool.reserve`, RESERVE_BYTES) that it deletes when a write meant to drain fails for
want of space; the spool takes a new delivery only while that reserve exists. Freed pages go back
to the filesystem (auto_vacuum=INCREMENTAL, a truncating checkpoint), and the reserve is made
again as soon as there is room. The WAL is kept small (checkpoint every WAL_PAGES pages,
truncated to WAL_BYTES), so a delivery costs its body plus a few hundred bytes.

Files are 0600 and the folder 0700: bodies hold employees' names. The methods are synchronous
and short; async callers run them with `asyncio.to_thread`. The jobs on the rows live beside:
deliveries (spool.py), the quarantine (quarantine.py), other databases' deliveries (stranded.py).
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
from datetime import datetime
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
# Added since: when a delivery went to the quarantine (the status page counts the last 24 hours;
# rows from before it count from their arrival).
_QUARANTINED_AT = "ALTER TABLE quarantine ADD COLUMN quarantined_at TEXT"

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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc)


class SpoolFile:
    """The spool file of `directory`, seen from one database (`database_key`): the connection,
    its lock, the reserve; the ids waiting for that database, kept in memory."""

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
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(quarantine)")}
            if "quarantined_at" not in columns:
                self._db.execute(_QUARANTINED_AT)
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

    # -- room on disk ---------------------------------------------------------------------------

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

    # -- one drainer at a time ------------------------------------------------------------------

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
