"""The status page with 100,000 punches: every read explained (EXPLAIN ANALYZE, printed), then
/status and /api/status timed in process (target: under 50 ms each, the median and the 95th
percentile), first as the schema is, then with the indexes status_queries.PROPOSED_INDEXES
proposes for sql/schema_pointage.sql.

`python -m bench status`. Database: BENCH_DATABASE_URL (a server where it may create and drop a
database), else an embedded PostgreSQL in a temp dir. The punches are bulk-loaded with the user
triggers off, then each user's months recomputed (pointage_recalculer_utilisateur), so the tables
look as the trigger leaves them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar.testing import TestClient

from service.app import create_app
from service.db import status_queries
from service.db.embedded import temporary_embedded
from service.db.schema import schema_sql
from service.http import paths
from service.operations.status import month_of
from service.settings import Settings

PUNCHES = 100_000
USERS = 120  # 20 of them not mapped to equipe
UNMAPPED = 20
TARGET_MS = 50.0
RUNS = 40

LOAD = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, payload, recu_le)
SELECT 'tm_bench_' || n,
       'u-' || lpad((n % $2)::text, 3, '0'),
       CASE (n / $2) % 2 WHEN 0 THEN 'entree' ELSE 'sortie' END,
       t, t, 'Africa/Tunis', (t AT TIME ZONE 'Africa/Tunis')::date,
       jsonb_build_object('id', 'tm_bench_' || n, 'event', 'attendance.inserted',
           'data', jsonb_build_object(
               'userId', 'u-' || lpad((n % $2)::text, 3, '0'),
               'userFirstName', 'Prénom' || (n % $2), 'userLastName', 'Nom' || (n % $2),
               'userEmployeeNumber', 'LP-' || (n % $2),
               'locationName',
               (ARRAY['Atelier Ksar Hellal', 'Dépôt Sousse', 'Atelier Monastir'])[1 + n % 3],
               'comment', repeat('x', 900))),
       t + interval '3 seconds'
  FROM generate_series(1, $1) AS n,
       LATERAL (SELECT $3::timestamptz - ($1 - n) * interval '90 seconds'
                       + (CASE (n / $2) % 2 WHEN 0 THEN interval '0' ELSE interval '8 hours' END)
                       AS t) instant
"""


@contextlib.contextmanager
def database() -> Iterator[str]:
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        with temporary_embedded("bench-status-") as url:
            yield url
        return
    name = f"bench_status_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(server, f"CREATE DATABASE {name}"))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(server, f"DROP DATABASE {name} WITH (FORCE)"))


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fill(url: str) -> None:
    connection = await asyncpg.connect(url, command_timeout=1800)
    try:
        await connection.execute(schema_sql())
        await connection.execute(
            "INSERT INTO equipe (nom, prenom, timemoto_user_id) "
            "SELECT 'Nom' || i, 'Prénom' || i, 'u-' || lpad(i::text, 3, '0') "
            "FROM generate_series($1::int, $2::int - 1) i",
            UNMAPPED,
            USERS,
        )
        await connection.execute("ALTER TABLE pointage_horodatage DISABLE TRIGGER USER")
        await connection.execute(LOAD, PUNCHES, USERS, datetime.now(UTC))
        await connection.execute("ALTER TABLE pointage_horodatage ENABLE TRIGGER USER")
        await connection.execute(
            "UPDATE pointage_horodatage p SET equipe_id = e.id FROM equipe e"
            " WHERE e.timemoto_user_id = p.timemoto_user_id"
        )
        for (user,) in await connection.fetch(
            "SELECT DISTINCT timemoto_user_id FROM pointage_horodatage"
        ):
            await connection.execute("SELECT pointage_recalculer_utilisateur($1)", user)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def explain(url: str) -> None:
    now = datetime.now(UTC)
    first, _ = month_of(now, ZoneInfo("Africa/Tunis"))
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    connection = await asyncpg.connect(url)
    statements: dict[str, tuple[str, list[Any]]] = {
        "last punch": (status_queries.LAST_PUNCH.text, []),
        "last event": (status_queries.LAST_EVENT.text, []),
        "per location": (status_queries.PER_LOCATION.text, []),
        "per hour": (
            status_queries.PER_HOUR.text.replace(":since", "$1"),
            [now - timedelta(hours=48)],
        ),
        "unmapped": (status_queries.UNMAPPED.text, []),
        "anomalies": (
            status_queries.ANOMALIES.text.replace(":first", "$1").replace(":next", "$2"),
            [first, following],
        ),
    }
    try:
        for name, (sql, args) in statements.items():
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            plan = [row[0] for row in rows]
            total = next((line for line in reversed(plan) if "Execution Time" in line), "")
            print(f"  {name:13} {total.strip()}")
            if os.environ.get("BENCH_VERBOSE"):
                print("\n".join("      " + line for line in plan))
    finally:
        await connection.close()


def timed(client: TestClient[Any], path: str, auth: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path, headers=auth)
        samples.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text[:300]
    return samples


def measure(url: str, work: Path, runs: int) -> dict[str, tuple[float, float]]:
    settings = Settings(
        webhook_secrets=("bench",),
        database_url=url,
        data_dir=work / "data",
        spool_dir=work / "spool",
        admin_password="bench",  # noqa: S106 - a throwaway service's
    )
    auth = {"Authorization": "Basic " + base64.b64encode(b"admin:bench").decode()}
    results = {}
    with TestClient(create_app(settings)) as client:
        for path in (paths.STATUS, paths.API_STATUS):
            timed(client, path, auth, 1)  # warm: templates compiled, plans cached
            samples = sorted(timed(client, path, auth, runs))
            results[path] = (statistics.median(samples), samples[int(len(samples) * 0.95) - 1])
    return results


def main() -> int:
    failed = 0
    with database() as url, tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        started = time.perf_counter()
        asyncio.run(fill(url))
        print(
            f"{PUNCHES} punches, {USERS} users ({UNMAPPED} unmapped) loaded in "
            f"{time.perf_counter() - started:.0f} s"
        )
        for label, indexes in (
            ("schema as it is", ()),
            ("with the proposed indexes", status_queries.PROPOSED_INDEXES),
        ):
            for statement in indexes:
                asyncio.run(_admin(url, statement))
            if indexes:
                asyncio.run(_admin(url, "ANALYZE pointage; ANALYZE pointage_evenement"))
            print(f"{label}:")
            asyncio.run(explain(url))
            runs = RUNS if indexes else 5  # seconds each without them
            for path, (median, p95) in measure(url, Path(tmp), runs).items():
                verdict = "ok" if p95 < TARGET_MS else f"over {TARGET_MS:.0f} ms"
                print(f"  {path:12} median {median:.1f} ms, p95 {p95:.1f} ms ({verdict})")
                if indexes and p95 >= TARGET_MS:
                    failed = 1
    return failed
