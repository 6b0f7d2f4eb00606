"""ERP-size data (issue 22): five years of a 500-employee workshop in the clockings, against an
empty database, in one run on one PostgreSQL server.

`python -m bench erp_size` (or `make bench`). Three databases, the same `equipe` (500 employees,
470 of them mapped to their TimeMoto user):

- empty: no clocking at all;
- month: only the days the status page and the export show (the previous month and this one up
  to yesterday), the same punches as in erp;
- erp: five years up to yesterday, about 3 million punches (BENCH_ERP_PUNCHES, default
  3,000,000; e.g. 200000 for a quick look: fewer days, the same 500 users).

The punches are made in SQL (generate_series; a full TimeMoto payload each): Monday to Friday
an entree around 07:30-08:30, a lunch break, a sortie around 16:30-17:30, an afternoon break one
day in three; some Saturday mornings; absences; a forgotten sortie (the next entree an
`entree_repetee`) or entree (a `sortie_sans_poste`) now and then; three locations. They are
inserted through the triggers, a week a statement in time order (each punch later than its
user's: the trigger's usual path, about 6,000 punches/s here; the bulk load with the triggers
off and `pointage_recalculer_utilisateur` per user took an hour at 3 million), then VACUUM
ANALYZE: the tables are what the service leaves, and the plans are the real ones.

Then, for each database in turn, the real service (ServiceProcess, as `make serve` runs it):
the webhook under wrk (the same 500 users clocking on after the history: usual punches; p50 and
p99), then one at a time `/status`, `/api/status`, the verifier and the previous month's
export (median and p99; the .csv, which makes the same three reads as the .xlsx: rendering the
.xlsx costs a minute for 500 employees whatever the history, see README "Speed"). The table
puts erp beside empty with the ratio and the verdict against 1.5x; for the export and the
status page, whose answers show the month's rows, the ratio against month (the same rows without
the history) is given too. Prints the numbers; fails only when an answer is wrong, not when a
target is missed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench import bench_status
from bench.bench_webhook import (
    SECRET,
    UVICORN_ENV,
    LoadGenerator,
    create_database,
    employees,
    punches,
    write_bodies,
)
from service.db.embedded import temporary_embedded
from service.db.export_queries import read_payroll
from service.domain.payroll import Month
from service.http import paths
from simulator.deliveries import Employee
from simulator.harness import ServiceProcess

USERS = 500
UNMAPPED = 30  # TimeMoto users no equipe row is mapped to (the last ones)
DEFAULT_PUNCHES = 3_000_000
PUNCHES_PER_DAY = 4.0 * 0.95 * 5 / 7 * 1.15 + 2 * 0.4 / 7  # weekdays, their breaks, Saturdays
ZONE = "Africa/Tunis"
LIMIT = 1.5
ADMIN_PASSWORD = "bench-erp"  # noqa: S105 - a throwaway service's
WEBHOOK_SECONDS = 10.0
READS = 40  # sequential requests per read path (after two to warm up)
EXPORTS = 10

# One row per punch of user u (1-based, in $1..$4) on day d, from $5 to $6 (dates). Per user and
# day, numbers drawn from hashes of both, so the same day is the same in every database.
LOAD = """
WITH jours AS (
    SELECT d::date AS d, extract(isodow FROM d)::int AS dow
      FROM generate_series($5::date, $6::date, interval '1 day') AS d
), tirages AS (
    SELECT u, j.d, j.dow,
           (hashtext(u || ':' || j.d) & 2147483647) % 1000 AS r,
           (hashtext(j.d || '/' || u) & 2147483647) % 1000 AS s
      FROM generate_series(1, cardinality($1::text[])) AS u CROSS JOIN jours AS j
), journees AS (  -- who works that day, and how
    SELECT u, d, r, s,
           (dow = 6) AS samedi,
           (dow <= 5 AND r % 100 < 95) OR (dow = 6 AND r % 100 < 40) AS travaille
      FROM tirages
), pointages AS (
    SELECT u, d, k, type_pointage, minutes
      FROM journees
     CROSS JOIN LATERAL (VALUES
         (1, 'entree', 450 + s % 60, NOT (s % 300 = 7)),
         (2, 'debut_pause', 720 + r % 20, NOT samedi),
         (3, 'fin_pause', 750 + r % 20 + s % 30, NOT samedi),
         (4, 'debut_pause', 900 + s % 15, NOT samedi AND r % 3 = 0),
         (5, 'fin_pause', 915 + s % 15, NOT samedi AND r % 3 = 0),
         (6, 'sortie', CASE WHEN samedi THEN 720 ELSE 990 END + r % 60, NOT (r % 100 = 97)))
         AS k(k, type_pointage, minutes, garde)
     WHERE travaille AND garde
), instants AS (
    SELECT p.*, ((p.d + make_interval(mins => p.minutes)) AT TIME ZONE 'Africa/Tunis') AS h
      FROM pointages AS p
)
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, equipe_id, type_pointage,
                                 horodatage, horodatage_brut, fuseau_horaire, date_travail,
                                 payload, recu_le)
SELECT 'tm_erp_' || i.u || '_' || i.d || '_' || i.k, ($1::text[])[i.u], e.id, i.type_pointage,
       i.h, i.h, 'Africa/Tunis', i.d,
       jsonb_build_object('id', 'tm_erp_' || i.u || '_' || i.d || '_' || i.k,
           'event', 'attendance.inserted', 'sequence', 1,
           'dispatchedAt', extract(epoch FROM i.h)::bigint + 2,
           'data', jsonb_build_object(
               'clockingType', CASE i.type_pointage WHEN 'entree' THEN 'In'
                   WHEN 'sortie' THEN 'Out' WHEN 'debut_pause' THEN 'BreakIn'
                   ELSE 'BreakOut' END,
               'deviceSerialNumber', '125058917500311',
               'clientId', '6d1f0c3e-2b7a-4e59-9c1d-0a8b7e6f5d43',
               'userId', ($1::text[])[i.u], 'userCardNumber', NULL,
               'userFirstName', ($2::text[])[i.u], 'userLastName', ($3::text[])[i.u],
               'userFullName', ($2::text[])[i.u] || ' ' || ($3::text[])[i.u],
               'userEmployeeNumber', ($4::text[])[i.u],
               'departmentId', NULL, 'departmentName', NULL,
               'locationId', md5('lieu' || i.u % 3),
               'locationName', (ARRAY['Atelier Ksar Hellal', 'Dépôt Sousse',
                                      'Atelier Monastir'])[1 + i.u % 3],
               'projectId', NULL, 'projectName', NULL, 'projectCode', NULL,
               'timeZone', 'Africa/Tunis',
               'timeLogged', to_char(i.d + make_interval(mins => i.minutes),
                                     'YYYY-MM-DD"T"HH24:MI:SS'),
               'timeLoggedRounded', to_char(i.d + make_interval(mins => i.minutes),
                                            'YYYY-MM-DD"T"HH24:MI:SS'),
               'timeInserted', to_char(i.h AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US0"Z"'),
               'clockingActionTypeId', CASE i.type_pointage WHEN 'entree' THEN 0
                   WHEN 'sortie' THEN 1 WHEN 'debut_pause' THEN 2 ELSE 3 END,
               'verificationModeId', 4, 'recordHash', hashtext('tm_erp_' || i.u || i.d || i.k),
               'recordIgnored', false, 'clockingPairId', NULL, 'clockingSequenceId', NULL,
               'planningId', 0, 'absenceTypeId', NULL, 'absenceTypeName', NULL,
               'color', NULL, 'comment', NULL, 'payPeriodId', NULL, 'payPeriodName', NULL)),
       i.h + interval '3 seconds'
  FROM instants AS i
  LEFT JOIN equipe AS e ON e.timemoto_user_id = ($1::text[])[i.u]
 ORDER BY i.d, i.u, i.k
"""


# ---------------------------------------------------------------------------------------------
# Pure helpers


def history_days(punches: int, users: int = USERS) -> int:
    """How many days of history give about `punches` punches for `users` users."""
    return max(1, round(punches / (users * PUNCHES_PER_DAY)))


def weeks(since: date, until: date) -> list[tuple[date, date]]:
    """[since, until] cut in runs of seven days (the last may be shorter), in order."""
    runs = []
    while since <= until:
        runs.append((since, min(until, since + timedelta(days=6))))
        since += timedelta(days=7)
    return runs


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` of 1) of non-empty `samples`."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil, at least the first
    return ordered[int(rank) - 1]


def verdict(baseline: float, measured: float, limit: float = LIMIT) -> tuple[float, str]:
    """The ratio measured / baseline and whether it is within `limit`."""
    ratio = measured / baseline if baseline > 0 else float("inf")
    return ratio, ("ok" if ratio <= limit else f"OVER {limit}x")


def previous_month(today: date) -> tuple[date, date]:
    """The first day of the month before `today`'s, and of `today`'s."""
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), first


# ---------------------------------------------------------------------------------------------
# Loading


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=30, command_timeout=3600)


async def prepare(url: str, users: list[Employee], since: date | None, until: date) -> int:
    """`equipe` and, from `since` (None: no clocking) to `until`, the users' punches, a week a
    statement through the triggers (each a batch of usual punches, as the group commit's); then
    VACUUM ANALYZE. Returns how many punches."""
    connection = await _connect(url)
    try:
        mapped = users[: len(users) - UNMAPPED]
        await connection.executemany(
            "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)",
            [(u.last_name, u.first_name, u.user_id) for u in mapped],
        )
        if since is None:
            return 0
        columns = (
            [u.user_id for u in users],
            [u.first_name for u in users],
            [u.last_name for u in users],
            [u.employee_number for u in users],
        )
        for first, last in weeks(since, until):
            await connection.execute(LOAD, *columns, first, last)
        await connection.execute("VACUUM ANALYZE")
        return int(await connection.fetchval("SELECT count(*) FROM pointage_horodatage"))
    finally:
        await connection.close()


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Figures:
    punches: int
    webhook_rps: float
    webhook_p50: float
    webhook_p99: float
    reads: dict[str, list[float]]  # path -> milliseconds
    problems: list[str]


def _timed(client: httpx.Client, path: str, times: int, warm: int = 2) -> list[float]:
    samples = []
    for n in range(warm + times):
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
        if n >= warm:
            samples.append(elapsed)
    return samples


def measure(
    url: str, work: Path, generator: LoadGenerator, bodies: Path, month: date, punches: int
) -> Figures:
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": url,
        "DATA_DIR": str(work / "data"),
        "SPOOL_DIR": str(work / "data" / "spool"),
        "LOG_FORMAT": "json",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WORKING_TIMEZONE": ZONE,
        **UVICORN_ENV,
    }
    problems: list[str] = []
    service = ServiceProcess(work, env).start()
    try:
        target = f"{service.base_url}{paths.WEBHOOK}"
        result = generator.run(target, bodies, WEBHOOK_SECONDS)
        if result.non_2xx:
            problems.append(f"webhook: {result.non_2xx} non-2xx answers")
        unexpected = {k: v for k, v in result.answers().items() if k != "stored" and v}
        if unexpected:
            problems.append(f"webhook: answers other than stored: {unexpected}")
        auth = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
        with httpx.Client(
            base_url=service.base_url, timeout=120, headers={"Authorization": f"Basic {auth}"}
        ) as client:
            time.sleep(1.0)  # the last commits of the webhook's run
            reads = {
                paths.STATUS: _timed(client, paths.STATUS, READS),
                paths.API_STATUS: _timed(client, paths.API_STATUS, READS),
                paths.VERIFIER: _timed(client, paths.VERIFIER, READS),
                "export": _timed(client, f"{paths.EXPORT}/{month:%Y-%m}.csv", EXPORTS, 1),
            }
    finally:
        service.stop()
    return Figures(punches, result.rps, result.p50_ms, result.p99_ms, reads, problems)


async def explain_export(url: str, month: date) -> None:
    """The export's three reads under EXPLAIN ANALYZE, exactly as the service sends them: the
    repository runs once here, its statements caught on their way to the driver."""
    sent: list[tuple[str, tuple[object, ...]]] = []
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))

    def catch(*args: object) -> None:
        statement, parameters = args[2], args[3]
        sent.append((str(statement), tuple(parameters)))  # type: ignore[arg-type]

    event.listen(engine.sync_engine, "before_cursor_execute", catch)
    try:
        async with AsyncSession(engine) as session:
            await read_payroll(session, Month(month.year, month.month), ZoneInfo(ZONE))
    finally:
        await engine.dispose()
    reads = [(sql, args) for sql, args in sent if sql.lstrip().upper().startswith("SELECT")]
    connection = await _connect(url)
    try:
        for name, (sql, args) in zip(("months", "days", "anomalies"), reads, strict=False):
            plan = [
                row[0] for row in await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            ]
            total = next((line for line in reversed(plan) if "Execution Time" in line), "")
            print(f"  export {name:10} {total.strip()}")
            if os.environ.get("BENCH_VERBOSE"):
                print("\n".join("      " + line for line in plan))
    finally:
        await connection.close()


def _read_figure(path: str, fraction: float) -> Callable[[Figures], float]:
    if fraction == 0.5:
        return lambda figures: statistics.median(figures.reads[path])
    return lambda figures: percentile(figures.reads[path], fraction)


def report(figures: dict[str, Figures], load: tuple[float, float, float]) -> None:
    empty, month, erp = figures["empty"], figures["month"], figures["erp"]
    print()
    print(
        f"| metric | empty ({empty.punches:,}) | month ({month.punches:,}) | "
        f"ERP-size ({erp.punches:,}) | ERP / empty | verdict (<= {LIMIT}x) | ERP / month |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows: list[tuple[str, Callable[[Figures], float]]] = [
        ("webhook p50 (ms)", lambda f: f.webhook_p50),
        ("webhook p99 (ms)", lambda f: f.webhook_p99),
        ("webhook rate (/s)", lambda f: f.webhook_rps),
    ]
    for path in (paths.STATUS, paths.API_STATUS, paths.VERIFIER, "export"):
        name = "export csv" if path == "export" else path
        rows.append((f"{name} median (ms)", _read_figure(path, 0.5)))
        rows.append((f"{name} p99 (ms)", _read_figure(path, 0.99)))
    for label, value in rows:
        base, small, big = value(empty), value(month), value(erp)
        if "rate" in label:  # more is better: the ratio that should stay under the limit
            ratio, judged = verdict(big, base)
            ratio_month, _ = verdict(big, small)
        else:
            ratio, judged = verdict(base, big)
            ratio_month, _ = verdict(small, big)
        print(
            f"| {label} | {base:,.1f} | {small:,.1f} | {big:,.1f} | {ratio:.2f}x | {judged} "
            f"| {ratio_month:.2f}x |"
        )
    print(
        f"(load average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {READS} requests per "
        f"read path, {EXPORTS} exports; rate: ERP / empty inverted, the slowdown)"
    )


def main() -> int:
    wanted = int(os.environ.get("BENCH_ERP_PUNCHES", DEFAULT_PUNCHES))
    load = os.getloadavg()
    generator = LoadGenerator()
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    yesterday = today - timedelta(days=1)
    exported, _ = previous_month(today)
    days = history_days(wanted)
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{USERS} users, {days} days of history to {yesterday} (about {wanted:,} punches); "
        f"webhook: {generator.name}, {WEBHOOK_SECONDS:.0f} s",
        flush=True,
    )
    users = employees(USERS)
    figures: dict[str, Figures] = {}
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-erp-size-") as tmp,
        temporary_embedded("bench-erp-size-pg-") as server_url,
    ):
        work = Path(tmp)
        bodies = work / "bodies.txt"
        start = datetime.combine(today, datetime.min.time())
        write_bodies(bodies, punches(start, int(8_000 * WEBHOOK_SECONDS), users))
        urls: dict[str, str] = {}
        counts: dict[str, int] = {}
        for name, since in (
            ("erp", yesterday - timedelta(days=days - 1)),
            ("month", exported),
            ("empty", None),
        ):
            started = time.perf_counter()
            urls[name] = asyncio.run(create_database(server_url, name, schema=True))
            counts[name] = asyncio.run(prepare(urls[name], users, since, yesterday))
            print(
                f"{name}: {counts[name]:,} punches loaded and attributed in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        print("erp, the status page's and the export's reads (EXPLAIN ANALYZE):", flush=True)
        asyncio.run(bench_status.explain(urls["erp"]))
        asyncio.run(explain_export(urls["erp"], exported))
        for name in ("empty", "month", "erp"):
            figures[name] = measure(
                urls[name], work / name, generator, bodies, exported, counts[name]
            )
            f = figures[name]
            print(
                f"{name}: webhook {f.webhook_rps:,.0f}/s p99 {f.webhook_p99:.1f} ms; /status "
                f"median {statistics.median(f.reads[paths.STATUS]):.1f} ms; export median "
                f"{statistics.median(f.reads['export']):.0f} ms",
                flush=True,
            )
            problems += [f"{name}: {p}" for p in f.problems]
    report(figures, load)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0
