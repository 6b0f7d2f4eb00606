"""Worked time through the trigger: the cost of one more punch must not grow with the history.

For each shape of a user's history (in/out days with breaks, break punches only, anomalies
only), times the insert of the 10th and of the 4,000th punch (medians over repetitions, each in
a transaction rolled back, the two interleaved so drift hits both alike) and prints their ratio
(target: at most 1.5); then the punches per second the trigger takes, one insert per punch, in
chronological and in random order. The histories are loaded one punch per transaction, as the
service writes them (a history written in one transaction would keep every version of its
months' rows alive, which no delivery meets). Database: DATABASE_URL, else an embedded
PostgreSQL in a temp dir; the bench's punches and months are deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.db.schema import schema_sql

RUNS = 61
HISTORY = 4000
RATIO_LIMIT = 1.5
ZONE = "Africa/Tunis"
START = datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo(ZONE))


@dataclass(frozen=True)
class Shape:
    name: str
    pattern: list[str]  # period 10: the 10th and the 4,000th punch are alike
    step: timedelta


SHAPES = [
    # Days in and out: a sortie closing a shift with a break is the 10th and the 4,000th.
    Shape(
        "in/out days",
        [
            *("entree", "debut_pause", "fin_pause", "sortie"),
            *("entree", "sortie"),
            *("entree", "debut_pause", "fin_pause", "sortie"),
        ],
        timedelta(minutes=20),
    ),
    # Break punches and nothing else: no shift ever opens.
    Shape("breaks only", ["debut_pause", "fin_pause"] * 5, timedelta(minutes=20)),
    # Every punch an anomaly: sorties without a shift, repeated entrees, shifts over 24 hours.
    Shape("anomalies only", ["sortie"] * 5 + ["entree"] * 5, timedelta(hours=25)),
]

INSERT_SQL = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, ignore, payload)
VALUES ($1, $2, $3, $4, $4, $5, $6, false, '{}'::jsonb)
"""


def history(user: str, shape: Shape, count: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(count):
        instant = START + n * shape.step
        kind = shape.pattern[n % len(shape.pattern)]
        rows.append((f"{user}-{n}", user, kind, instant, ZONE, instant.date()))
    return rows


async def insert_timed(connection: asyncpg.Connection, row: tuple[Any, ...]) -> float:
    """Seconds to insert one punch; undone afterwards so that it can be measured again."""
    transaction = connection.transaction()
    await transaction.start()
    started = time.perf_counter()
    await connection.execute(INSERT_SQL, *row)
    elapsed = time.perf_counter() - started
    await transaction.rollback()
    return elapsed


async def rate(connection: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> float:
    """Punches per second, one insert and one commit per punch."""
    started = time.perf_counter()
    for row in rows:
        await connection.execute(INSERT_SQL, *row)
    return len(rows) / (time.perf_counter() - started)


async def measure(url: str) -> int:
    connection = await asyncpg.connect(url, timeout=30)
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        await connection.execute(schema_sql())
        await connection.execute("SET synchronous_commit = off")  # durable enough for a bench
        try:
            return await _measure(connection, tag)
        finally:
            await _clean(connection, tag)
    finally:
        await connection.close()


async def _clean(connection: asyncpg.Connection, tag: str) -> None:
    """The bench's punches, and so their months; then their delivery ids kept as deleted."""
    await connection.execute(
        "DELETE FROM pointage_horodatage WHERE timemoto_user_id LIKE $1", f"{tag}-%"
    )
    await connection.execute("DELETE FROM pointage_supprime WHERE event_id LIKE $1", f"{tag}-%")


async def _measure(connection: asyncpg.Connection, tag: str) -> int:
    failed = 0
    print(f"{'history':16} {'10th ms':>9} {f'{HISTORY:,}th ms':>10} {'ratio':>6}  load punches/s")
    for number, shape in enumerate(SHAPES):
        small = history(f"{tag}-{number}-small", shape, 10)
        large = history(f"{tag}-{number}-large", shape, HISTORY)
        await rate(connection, small[:-1])
        loaded = await rate(connection, large[:-1])
        tenth: list[float] = []
        last: list[float] = []
        for _ in range(RUNS):
            tenth.append(await insert_timed(connection, small[-1]))
            last.append(await insert_timed(connection, large[-1]))
        tenth_ms = statistics.median(tenth) * 1000
        last_ms = statistics.median(last) * 1000
        ratio = last_ms / tenth_ms
        verdict = "ok" if ratio <= RATIO_LIMIT else "TOO SLOW"
        failed += ratio > RATIO_LIMIT
        print(
            f"{shape.name:16} {tenth_ms:9.3f} {last_ms:10.3f} {ratio:6.2f}  {loaded:8.0f}"
            f"   {verdict} (limit {RATIO_LIMIT}, medians of {RUNS})",
            flush=True,
        )

    shuffled = history(f"{tag}-shuffled", SHAPES[0], 2000)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - an arrival order, not a secret
    in_order = await rate(connection, history(f"{tag}-in-order", SHAPES[0], 2000))
    random_order = await rate(connection, shuffled)
    print(
        f"punches/s through the trigger, one insert each: {in_order:.0f} in chronological "
        f"order, {random_order:.0f} in random order (in/out days, 2,000 punches, one connection)"
    )
    return 1 if failed else 0


def main() -> int:
    if url := os.environ.get("DATABASE_URL"):
        return asyncio.run(measure(url))
    from service.db.embedded import temporary_embedded

    with temporary_embedded("bench-worktime-") as url:
        return asyncio.run(measure(url))


if __name__ == "__main__":
    raise SystemExit(main())
