"""Draining a long outage's spool: 50,000 acknowledged deliveries back into PostgreSQL.

Target: at least 5,000 deliveries/s, every one of them in `pointage` afterwards. The spool is
filled directly (one SQLite transaction, as 50,000 webhooks would have left it), then the
service's own runtime drains it: the same drainer, group commit and trigger as in production.
Database: DATABASE_URL, else an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from service.db.embedded import temporary_embedded
from service.db.engine import DatabaseTarget
from service.db.schema import schema_sql
from service.outbox.spool import SPOOL_FILE, Spool
from service.runtime import Runtime
from service.settings import Settings
from simulator.company import EMPLOYEES
from simulator.deliveries import attendance_inserted
from simulator.sender import encode

DELIVERIES = int(os.environ.get("BENCH_DRAIN_DELIVERIES", "50000"))
TARGET_PER_SECOND = 5000
SECRET = "bench-drain-secret"  # noqa: S105 - a throwaway secret for a local run


def fill(spool_dir: Path, target: DatabaseTarget, count: int) -> None:
    Spool(spool_dir, target.key, target.label).close()  # the tables, as the service makes them
    start = datetime(2026, 1, 1, 6, 0)
    received = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    rows = []
    for n in range(count):
        employee = EMPLOYEES[n % len(EMPLOYEES)]
        day = n // (2 * len(EMPLOYEES))
        local = start + timedelta(days=day, hours=9 * ((n // len(EMPLOYEES)) % 2))
        delivery = attendance_inserted(employee, (n // len(EMPLOYEES)) % 2, local)
        rows.append(
            (str(delivery["id"]), target.key, target.label, encode(delivery), received.isoformat())
        )
    with contextlib.closing(sqlite3.connect(spool_dir / SPOOL_FILE)) as db, db:
        db.executemany(
            "INSERT INTO delivery (event_id, database_key, database_label, body, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )


async def drain(settings: Settings) -> tuple[int, int, float]:
    runtime = await Runtime.open(settings, schema_auto_apply=False)
    try:
        started = time.perf_counter()
        result = await runtime.recovery.drain_once()
        return result.written, result.left, time.perf_counter() - started
    finally:
        await runtime.stop()


async def stored(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM pointage_horodatage"))
    finally:
        await connection.close()


async def apply_schema(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(schema_sql())
    finally:
        await connection.close()


def main() -> int:
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-drain-")))
        url = os.environ.get("DATABASE_URL") or stack.enter_context(
            temporary_embedded("bench-drain-pg-")
        )
        asyncio.run(apply_schema(url))
        before = asyncio.run(stored(url))
        settings = Settings(
            webhook_secrets=(SECRET,),
            database_url=url,
            data_dir=work / "data",
            spool_dir=work / "spool",
            connect_timeout=10.0,
        )
        fill(settings.spool_dir, DatabaseTarget.from_url(url, settings), DELIVERIES)
        written, left, seconds = asyncio.run(drain(settings))
        landed = asyncio.run(stored(url)) - before
        rate = written / seconds if seconds else 0.0
        verdict = "ok" if rate >= TARGET_PER_SECOND else "MISSED"
        print(f"drained {written} deliveries in {seconds:.1f} s: {rate:,.0f}/s", end=" ")
        print(f"(target >= {TARGET_PER_SECOND:,}/s: {verdict}); left {left}; in pointage {landed}")
        return 0 if written == DELIVERIES == landed and left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
