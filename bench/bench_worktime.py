"""Worked time through the trigger: the cost of one more punch must not grow with the month.

Times the insert of the 10th and of the 2,000th punch of one user's month (medians over
repetitions, each undone by a savepoint, the two interleaved so drift hits both alike), their
ratio (target: under 1.5), and the punches per second the trigger takes in chronological and in
random order. Database: DATABASE_URL, else an embedded PostgreSQL in a temp dir. Everything but
the schema is rolled back at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.db.schema import schema_sql

RUNS = 61
MONTH_PUNCHES = 2000
RATIO_LIMIT = 1.5
ZONE = "Africa/Tunis"
# Period 10: the 10th and the 2,000th punch are alike (a sortie closing a shift with a break).
PATTERN = ["entree", "debut_pause", "fin_pause", "sortie", "entree", "sortie"]
PATTERN += ["entree", "debut_pause", "fin_pause", "sortie"]
START = datetime(2026, 11, 1, 0, 0, tzinfo=ZoneInfo(ZONE))
STEP = timedelta(minutes=20)

INSERT_SQL = """
INSERT INTO pointage (event_id, timemoto_user_id, type_pointage, horodatage, horodatage_brut,
                      fuseau_horaire, date_travail, ignore, payload)
VALUES ($1, $2, $3, $4, $4, $5, $6, false, '{}'::jsonb)
"""


def month_of_punches(user: str, count: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(count):
        instant = START + n * STEP
        kind = PATTERN[n % len(PATTERN)]
        rows.append((f"bench-{user}-{n}", user, kind, instant, ZONE, instant.date()))
    return rows


async def insert_timed(connection: asyncpg.Connection, row: tuple[Any, ...]) -> float:
    """Seconds to insert one punch; undone afterwards so that it can be measured again."""
    transaction = connection.transaction()  # a savepoint inside the outer transaction
    await transaction.start()
    started = time.perf_counter()
    await connection.execute(INSERT_SQL, *row)
    elapsed = time.perf_counter() - started
    await transaction.rollback()
    return elapsed


async def rate(connection: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    await connection.executemany(INSERT_SQL, rows)
    return len(rows) / (time.perf_counter() - started)


async def measure(url: str) -> int:
    connection = await asyncpg.connect(url, timeout=30)
    try:
        await connection.execute(schema_sql())
        outer = connection.transaction()
        await outer.start()
        try:
            return await _measure(connection)
        finally:
            await outer.rollback()
    finally:
        await connection.close()


async def _measure(connection: asyncpg.Connection) -> int:
    tag = uuid.uuid4().hex[:8]
    small = month_of_punches(f"{tag}-small", 10)
    large = month_of_punches(f"{tag}-large", MONTH_PUNCHES)
    shuffled = month_of_punches(f"{tag}-shuffled", MONTH_PUNCHES)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - an arrival order, not a secret

    await connection.executemany(INSERT_SQL, small[:-1])
    chronological = await rate(connection, large[:-1])
    random_order = await rate(connection, shuffled)

    tenth: list[float] = []
    last: list[float] = []
    for _ in range(RUNS):
        tenth.append(await insert_timed(connection, small[-1]))
        last.append(await insert_timed(connection, large[-1]))
    tenth_ms = statistics.median(tenth) * 1000
    last_ms = statistics.median(last) * 1000
    ratio = last_ms / tenth_ms

    print(f"insert the 10th punch of a month:    median {tenth_ms:.3f} ms over {RUNS} runs")
    print(f"insert the 2,000th punch of a month: median {last_ms:.3f} ms over {RUNS} runs")
    verdict = "ok" if ratio < RATIO_LIMIT else "TOO SLOW"
    print(f"ratio 2,000th / 10th: {ratio:.2f} (limit {RATIO_LIMIT}: {verdict})")
    print(
        f"punches/s through the trigger: {chronological:.0f} in chronological order, "
        f"{random_order:.0f} in random order (one connection, {MONTH_PUNCHES} punches each)"
    )
    return 0 if ratio < RATIO_LIMIT else 1


def main() -> int:
    if url := os.environ.get("DATABASE_URL"):
        return asyncio.run(measure(url))
    from service.db.embedded import temporary_embedded

    with temporary_embedded("bench-worktime-") as url:
        return asyncio.run(measure(url))


if __name__ == "__main__":
    raise SystemExit(main())
