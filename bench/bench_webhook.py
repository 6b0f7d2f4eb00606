"""The webhook against its limits, side by side in one run (issue 12's table and targets).

`python -m bench webhook` (or `make bench`) measures, one after the other on this machine, with
32 connections for a fixed time after a short warm-up:

1. the load generator's own ceiling: a trivial ASGI app that answers 200 at once;
2. the HTTP limit: a bare Litestar POST that reads the body and checks its HMAC;
3. the database's limit: raw asyncpg single-row durable commits into a plain table; and the
   trigger's: the same punches into `pointage`, a row per commit, and in batches shaped like the
   group commit's (a small reference: bench_database measures the database in depth);
4. the webhook end to end: the real service (ServiceProcess, LOG_FORMAT=json) on a fresh
   database, fed unique signed punches of 1,000 users over days, with 1 and with 2 workers.

Every server runs under uvicorn with the same options (uvloop, httptools, `--workers`). The load
generator is wrk with bench/webhook.lua (each wrk thread its own slice of pre-signed bodies); it
is installed with apt-get when missing and that is allowed, else bench/loadgen.py (an asyncio
client in its own process) stands in, and the output says which one ran. After each webhook run
the requests still in flight when the generator stopped are sent again, and the rows in
`pointage` must equal the deliveries sent, and the `stored` answers plus those never read.

Then the table (path, throughput, p50, p99), the ratios against issue 12's targets, and where the
CPU went in each run: the server's, PostgreSQL's and the generator's share of a core, how long
the server waited for a free core (the machine may be shared), CPU milliseconds per request, and
the group commit's rows per commit.

Options (flags of `python -m bench.bench_webhook`, or the environment for `make bench`):
  --seconds N       / BENCH_WEBHOOK_SECONDS   measured seconds per path (default 10)
  --rss             / BENCH_WEBHOOK_RSS=1     also 100,000 deliveries (each once: by the Python
                                              client, as wrk always runs its whole duration),
                                              then the service's RSS
  --profile PATH    / BENCH_WEBHOOK_PROFILE   also a webhook run under py-spy: collapsed stacks
                                              to PATH and a summary (py-spy: the dev extra;
                                              `make bench` writes reports/webhook-profile.txt)
  --python-client   / BENCH_WEBHOOK_CLIENT=python   the fallback generator even if wrk is here
Prints the numbers; fails only when an answer or a count is wrong, not when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench.bench_database import Row, punch_row
from service.db.embedded import temporary_embedded
from service.db.schema import schema_sql
from service.domain.delivery import decode, parse_delivery
from service.domain.signature import HEADER, sign
from service.http import paths
from simulator.deliveries import Employee, attendance_inserted
from simulator.harness import ServiceProcess, free_port, terminate, wait_until
from simulator.sender import encode

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "webhook.lua"
SECRET = "bench-webhook-secret"  # noqa: S105 - a throwaway service's secret

CONNECTIONS = 32
WRK_THREADS = 2
WARMUP_SECONDS = 2.0
DB_SECONDS = 5.0
USERS = 1000
BODIES_PER_SECOND = 8_000  # bodies made per measured second: the webhook never reuses one
WARMUP_BODIES = 16_000
TRIGGER_ROWS = 150_000  # rows for the trigger's limit: batched, it takes ~15,000/s for 6 s
RSS_DELIVERIES = 100_000
# The service's own options (deploy/): uvloop and httptools; each server here runs with them.
UVICORN_ENV = {"UVICORN_LOOP": "uvloop", "UVICORN_HTTP": "httptools"}

# Targets of issue 12.
THROUGHPUT_TARGET = 0.40  # webhook throughput / the bare endpoint's, at least
P99_TARGET = 4.0  # webhook p99 / the bare endpoint's p99, at most
RSS_TARGET_MB = 120.0


# ---------------------------------------------------------------------------------------------
# Bodies


def employees(count: int) -> list[Employee]:
    return [
        Employee(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-webhook-user-{n}")),
            f"Prenom{n}",
            f"Nom{n}",
            f"LP-{n:04d}",
        )
        for n in range(count)
    ]


def punches(first_day: datetime, count: int, users: list[Employee]) -> Iterator[bytes]:
    """`count` unique `attendance.inserted` bodies: each day, every user clocks in (08:00 and a
    few minutes), starts and ends a lunch break, clocks out; the users interleaved, so a batch
    holds many users and each user's day arrives in order."""
    produced = 0
    day = first_day
    while True:
        for action, hour in ((0, 8), (2, 12), (3, 13), (1, 17)):
            for n, employee in enumerate(users):
                if produced == count:
                    return
                at = day.replace(hour=hour, minute=(n * 7 + day.day) % 50)
                yield encode(attendance_inserted(employee, action, at))
                produced += 1
        day += timedelta(days=1)


def write_bodies(path: Path, bodies: Iterator[bytes]) -> int:
    """One line per body, "<hex signature> <body>", as bench/webhook.lua reads them."""
    count = 0
    with path.open("wb") as out:
        for body in bodies:
            out.write(sign(body, SECRET).encode() + b" " + body + b"\n")
            count += 1
    return count


def read_lines(path: Path, wanted: set[int]) -> dict[int, tuple[str, bytes]]:
    found: dict[int, tuple[str, bytes]] = {}
    with path.open("rb") as source:
        for number, line in enumerate(source):
            if number in wanted:
                signature, _, body = line.rstrip(b"\n").partition(b" ")
                found[number] = (signature.decode(), body)
    return found


# ---------------------------------------------------------------------------------------------
# Load generator


@dataclass
class ThreadTally:
    """What one generator thread sent (its slice: lines thread, thread+T, ...) and was told."""

    thread: int
    slice: int
    issued: int
    wraps: int
    answers: Counter[str]
    codes: Counter[int]


@dataclass
class LoadResult:
    generator: str
    bodies: Path
    threads: int
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    tallies: list[ThreadTally] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the generator's own

    @property
    def wraps(self) -> int:
        return sum(t.wraps for t in self.tallies)

    def answers(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for tally in self.tallies:
            total += tally.answers
        return total

    def issued_lines(self) -> int:
        """How many distinct bodies were sent (no wrap) or may have been (in flight at the stop)."""
        return sum(min(t.issued, t.slice) for t in self.tallies)

    def unanswered(self) -> int:
        """Requests made whose answer the generator never read: in flight when it stopped (and
        the one wrk makes to check the script before the run, never sent)."""
        return sum(t.issued - t.codes.total() for t in self.tallies)

    def tail(self) -> set[int]:
        """Line numbers of the bodies that may have been made and not answered: each connection
        has one request outstanding when the run stops, among its thread's last ones; and wrk
        calls request() once before the run to check the script, for thread 0's first body."""
        per_thread = self.connections // self.threads
        lines: set[int] = set()
        for t in self.tallies:
            lines.add(t.thread)
            for j in range(max(0, t.issued - per_thread), t.issued):
                lines.add(t.thread + (j % t.slice) * self.threads)
        return lines


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str, bodies: Path, connections: int) -> LoadResult:
    def number(pattern: str) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if not found:
            raise RuntimeError(f"wrk's output lacks {pattern!r}:\n{output}")
        return found.group(1)

    tallies = []
    for line in re.findall(r"^BENCH (.*)$", output, re.MULTILINE):
        fields = dict(item.split("=", 1) for item in line.split())
        codes = Counter(
            {int(c): int(n) for c, n in (p.split(":") for p in fields["codes"].split(",") if p)}
        )
        answers = Counter({k: int(fields[k]) for k in ("stored", "duplicate", "queued", "other")})
        tallies.append(
            ThreadTally(
                int(fields["thread"]),
                int(fields["slice"]),
                int(fields["issued"]),
                int(fields["wraps"]),
                answers,
                codes,
            )
        )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return LoadResult(
        generator="wrk",
        bodies=bodies,
        threads=len(tallies),
        connections=connections,
        requests=int(number(r"(\d+) requests in")),
        seconds=_duration_ms(number(r"requests in ([\d.]+\w+),")) / 1000,
        rps=float(number(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=_duration_ms(number(r"^\s+50%\s+(\S+)")),
        p99_ms=_duration_ms(number(r"^\s+99%\s+(\S+)")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1) if errors else "none",
        tallies=tallies,
    )


class LoadGenerator:
    """wrk with bench/webhook.lua, else bench/loadgen.py in its own process."""

    def __init__(self, force_python: bool = False) -> None:
        self.wrk = None if force_python else _find_or_install_wrk()
        self.name = "wrk 4 (bench/webhook.lua)" if self.wrk else "bench/loadgen.py (asyncio)"

    def run(
        self, url: str, bodies: Path, seconds: float, *, stop_at_end: bool = False
    ) -> LoadResult:
        """`seconds` of load; with `stop_at_end`, every body once and no more, by the Python
        client (wrk always runs for its whole duration)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = self._run(url, bodies, seconds, stop_at_end=stop_at_end)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.cpu_seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return result

    def _run(self, url: str, bodies: Path, seconds: float, *, stop_at_end: bool) -> LoadResult:
        if self.wrk and not stop_at_end:
            command = [self.wrk, "-t", str(WRK_THREADS), "-c", str(CONNECTIONS)]
            command += ["-d", f"{seconds:.0f}s", "--latency", "--timeout", "10s"]
            command += ["-s", str(LUA), url, "--", str(bodies), str(WRK_THREADS)]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 120, check=True
            )
            return parse_wrk(done.stdout, bodies, CONNECTIONS)
        command = [sys.executable, "-m", "bench.loadgen", url, str(bodies), str(seconds)]
        command += [str(CONNECTIONS), "stop" if stop_at_end else "cycle"]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=True, cwd=ROOT
        )
        report = json.loads(done.stdout)
        tally = ThreadTally(
            0,
            report["slice"],
            report["issued"],
            report["wraps"],
            Counter({k: report[k] for k in ("stored", "duplicate", "queued", "other")}),
            Counter({int(code): n for code, n in report["codes"].items()}),
        )
        return LoadResult(
            generator="python",
            bodies=bodies,
            threads=1,
            connections=CONNECTIONS,
            requests=report["requests"],
            seconds=report["seconds"],
            rps=report["rps"],
            p50_ms=report["p50_ms"],
            p99_ms=report["p99_ms"],
            non_2xx=report["non_2xx"],
            socket_errors=f"{report['socket_errors']} connections failed",
            tallies=[tally],
        )


def _find_or_install_wrk() -> str | None:
    """wrk on the PATH, else Debian's package when we may install it (root, apt-get), fetching
    the package lists first if the install finds nothing; None if that fails."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        for steps in ([["install"]], [["update"], ["install"]]):
            print(f"wrk missing: apt-get {' then '.join(s[0] for s in steps)}", flush=True)
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                for step in steps:
                    arguments = ["-y", "-q", "wrk"] if step == ["install"] else ["-q"]
                    subprocess.run(
                        ["apt-get", *step, *arguments],
                        capture_output=True,
                        timeout=300,
                        check=True,
                    )
                break
    return shutil.which("wrk")


# ---------------------------------------------------------------------------------------------
# Servers


class Uvicorn:
    """A reference app under uvicorn, with the service's options, until `stop()`."""

    def __init__(self, app: str, *, factory: bool, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(ROOT)]
        command += ["--factory"] if factory else []
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **UVICORN_ENV, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if not wait_until(self._listening, 30):
            self.stop()
            raise RuntimeError(f"{app} did not start; see {log}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{paths.WEBHOOK}"

    def pids(self) -> list[int]:
        return [self.process.pid]

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        terminate(self.process)


def database_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def create_database(server_url: str, name: str, *, schema: bool) -> str:
    admin = await asyncpg.connect(server_url, timeout=30)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = database_url(server_url, name)
    if schema:
        connection = await asyncpg.connect(url, timeout=30)
        try:
            await connection.execute(schema_sql())
        finally:
            await connection.close()
    return url


async def fetch_value(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url, timeout=30)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


async def checkpoint(url: str) -> None:
    """Write out what the runs before left dirty, so that the next run does not pay for it
    (the trigger's 150,000 rows made the webhook's p99 twice what it is on a settled server)."""
    connection = await asyncpg.connect(url, timeout=30)
    try:
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


# ---------------------------------------------------------------------------------------------
# CPU: where the two cores go during a measured run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


_TICKS = os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int) -> float:
    """How long the process's main thread has waited on a run queue (runnable, no CPU free)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def postgres_pids(server_url: str) -> list[int]:
    """The server's postmaster and its children (backends, WAL writer, ...), when it runs on this
    machine: its pid is the first line of postmaster.pid in its data directory."""
    if server_url not in _POSTMASTERS:
        _POSTMASTERS[server_url] = asyncio.run(_postmaster(server_url))
    postmaster = _POSTMASTERS[server_url]
    return [postmaster, *children(postmaster)] if postmaster else []


_POSTMASTERS: dict[str, int | None] = {}


async def _postmaster(server_url: str) -> int | None:
    connection = await asyncpg.connect(server_url, timeout=30)
    try:
        data_directory = await connection.fetchval("SHOW data_directory")
    finally:
        await connection.close()
    try:
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Cpu:
    """CPU seconds per group of processes over `wall` seconds, and how busy the machine was."""

    wall: float
    groups: dict[str, list[float]]  # per process of the group
    waits: dict[str, list[float]]  # seconds each (main thread) was runnable but not running
    machine_busy: float

    def core_share(self, group: str) -> float:
        return sum(self.groups.get(group, [])) / self.wall

    def wait_share(self, group: str) -> float:
        """Waiting for a CPU: the main thread's seconds on the run queue (the busiest one's, for
        a group of processes), over the wall time."""
        return max(self.waits.get(group, [0.0]), default=0.0) / self.wall


class CpuMeter:
    """`with CpuMeter({"server": pids_fn, ...}) as meter:` ... then `meter.result`."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self.result: Cpu | None = None

    def __enter__(self) -> CpuMeter:
        self._before = {
            name: {pid: (cpu_seconds(pid), run_queue_seconds(pid)) for pid in pids()}
            for name, pids in self._groups.items()
        }
        self._machine = _machine_ticks()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self._started
        busy, total = _machine_ticks()
        groups, waits = {}, {}
        for name, pids in self._groups.items():
            before = self._before[name]
            now = {pid: (cpu_seconds(pid), run_queue_seconds(pid)) for pid in pids()}
            groups[name] = [c - before.get(pid, (0.0, 0.0))[0] for pid, (c, _) in now.items()]
            waits[name] = [w - before.get(pid, (0.0, 0.0))[1] for pid, (_, w) in now.items()]
        share = (busy - self._machine[0]) / max(1, total - self._machine[1])
        self.result = Cpu(wall, groups, waits, share)


# ---------------------------------------------------------------------------------------------
# The database's limit


@dataclass
class Measure:
    rps: float
    p50_ms: float | None = None
    p99_ms: float | None = None


async def warm_then_time(
    work: Callable[[int, float, bool], Awaitable[None]],
    workers: int,
    seconds: float,
    meter: CpuMeter | None = None,
) -> float:
    """`workers` copies of `work(number, until, timed)`: a one-second warm-up, then `seconds`
    timed (inside `meter`); the seconds the timed part took."""
    warm_until = time.perf_counter() + 1.0
    await asyncio.gather(*(work(n, warm_until, False) for n in range(workers)))
    started = time.perf_counter()
    with meter or contextlib.nullcontext():
        await asyncio.gather(*(work(n, started + seconds, True) for n in range(workers)))
    return time.perf_counter() - started


async def plain_commits(url: str, seconds: float, meter: CpuMeter) -> Measure:
    """32 connections, each inserting one row per transaction (autocommit, so one fsync'd commit
    each) into a plain table, for `seconds` after a one-second warm-up (`meter` around them)."""
    setup = await asyncpg.connect(url, timeout=30)
    await setup.execute(
        "CREATE TABLE plain_commit (id bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE,"
        " recu_le timestamptz NOT NULL DEFAULT now())"
    )
    await setup.close()
    connections = [await asyncpg.connect(url, timeout=30) for _ in range(CONNECTIONS)]
    sequence = [0] * CONNECTIONS
    latencies: list[float] = []

    async def work(number: int, until: float, timed: bool) -> None:
        while (now := time.perf_counter()) < until:
            sequence[number] += 1
            await connections[number].execute(
                "INSERT INTO plain_commit (event_id) VALUES ($1)", f"c{number}-{sequence[number]}"
            )
            if timed:
                latencies.append(time.perf_counter() - now)

    try:
        elapsed = await warm_then_time(work, CONNECTIONS, seconds, meter)
    finally:
        for connection in connections:
            await connection.close()
    quantiles = statistics.quantiles(latencies, n=100)
    return Measure(len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000)


_INSERT_PUNCHES = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, ignore, payload,
                                 recu_le)
SELECT e, u, t, h, hb, f, d, i, p::jsonb, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
            $6::text[], $7::date[], $8::bool[], $9::text[]) AS x(e, u, t, h, hb, f, d, i, p)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""


def punch_rows(bodies: Path, count: int) -> list[Row]:
    """The first `count` bodies as `pointage` rows, parsed by the service's own domain code."""
    rows: list[Row] = []
    with bodies.open("rb") as source:
        for line in source:
            if len(rows) == count:
                break
            punch = parse_delivery(decode(line.rstrip(b"\n").partition(b" ")[2])).punch
            assert punch is not None
            rows.append(punch_row(punch))
    return rows


async def trigger_inserts(
    url: str, rows: list[Row], connections: int, batch: int, seconds: float
) -> tuple[Measure, int]:
    """Raw asyncpg inserts of real punches into `pointage` (through its trigger), each batch of
    `batch` rows (sorted by user, as the group commit does) one durable commit, on `connections`
    connections for `seconds` after a one-second warm-up. The rate is in rows/s; also returns
    how many rows were taken, to check that they did not run out."""
    pool = [await asyncpg.connect(url, timeout=30) for _ in range(connections)]
    cursor = 0
    latencies: list[float] = []
    inserted = 0

    async def work(number: int, until: float, timed: bool) -> None:
        nonlocal cursor, inserted
        while (now := time.perf_counter()) < until and cursor < len(rows):
            chunk = sorted(rows[cursor : cursor + batch], key=lambda row: row[1])
            cursor += batch
            columns = [list(column) for column in zip(*chunk, strict=True)]
            added = await pool[number].fetch(_INSERT_PUNCHES, *columns)
            if timed:
                latencies.append(time.perf_counter() - now)
                inserted += len(added)

    try:
        elapsed = await warm_then_time(work, connections, seconds)
    finally:
        for connection in pool:
            await connection.close()
    quantiles = statistics.quantiles(latencies, n=100)
    return Measure(inserted / elapsed, quantiles[49] * 1000, quantiles[98] * 1000), cursor


# ---------------------------------------------------------------------------------------------
# The webhook


@dataclass
class WebhookRun:
    workers: int
    result: LoadResult
    rows: int
    expected_rows: int
    stored_answers: int
    unanswered: int
    rss_at_start_kb: dict[str, int]
    rss_kb: dict[str, int]
    cpu: Cpu
    rows_per_commit: float  # during the measured run: how much the group commit gathered
    problems: list[str]


def webhook_run(
    server_url: str,
    work: Path,
    generator: LoadGenerator,
    *,
    name: str,
    workers: int,
    warmup: Path | None,
    bodies: Path,
    seconds: float,
    stop_at_end: bool = False,
    profile: Path | None = None,
) -> WebhookRun:
    """The real service on a fresh database: warm-up, the measured run, then the check."""
    url = asyncio.run(create_database(server_url, name, schema=True))
    asyncio.run(checkpoint(server_url))
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": url,
        "DATA_DIR": str(work / name / "data"),
        "SPOOL_DIR": str(work / name / "data" / "spool"),
        "LOG_FORMAT": "json",
        **UVICORN_ENV,
        "UVICORN_WORKERS": str(workers),
    }
    service = ServiceProcess(work / name, env).start()
    assert service.process is not None
    target = f"{service.base_url}{paths.WEBHOOK}"
    memory_at_start = _service_rss(service.process.pid)
    problems: list[str] = []
    runs: list[LoadResult] = []
    spy: subprocess.Popen[bytes] | None = None
    try:
        if warmup is not None:
            runs.append(generator.run(target, warmup, WARMUP_SECONDS))
        if profile is not None:
            spy = _py_spy(service.process.pid, seconds, profile)
        pid = service.process.pid
        before = asyncio.run(_rows_and_commits(url, name))
        with CpuMeter(
            {
                "server": lambda: children(pid) or [pid],
                "postgres": lambda: postgres_pids(server_url),
            }
        ) as meter:
            result = generator.run(target, bodies, seconds, stop_at_end=stop_at_end)
        runs.append(result)
        memory = _service_rss(service.process.pid)
        time.sleep(1.5)  # the last answers' commits, and PostgreSQL's statistics flushed
        after = asyncio.run(_rows_and_commits(url, name))
        stored = sum(run.answers()["stored"] for run in runs)
        unanswered = sum(run.unanswered() for run in runs)
        _send_again(service.base_url, runs, problems)
        rows = asyncio.run(fetch_value(url, "SELECT count(*) FROM pointage_horodatage"))
        expected = sum(run.issued_lines() for run in runs)
    finally:
        if spy is not None:
            spy.wait(timeout=seconds + 60)
        service.stop()
    for run in runs:
        label = "warm-up" if run is not result else "measured run"
        if run.non_2xx:
            problems.append(f"{label}: {run.non_2xx} non-2xx answers")
        if run.socket_errors != "none" and not run.socket_errors.startswith("0 "):
            problems.append(f"{label}: socket errors {run.socket_errors}")
        if run.wraps and not stop_at_end:
            problems.append(f"{label}: the bodies ran out and were sent again ({run.wraps} wraps)")
        unexpected = {k: v for k, v in run.answers().items() if k != "stored" and v}
        if unexpected and not stop_at_end:
            problems.append(f"{label}: answers other than stored: {unexpected}")
    if rows != expected:
        problems.append(f"{rows} rows in pointage, {expected} distinct deliveries sent")
    if rows != stored + unanswered and not stop_at_end:
        problems.append(
            f"{rows} rows in pointage, {stored} answers 'stored' + {unanswered} not read"
        )
    # Whatever the encoder's spacing (msgspec writes `"level":"ERROR"`).
    errors = [line for line in service.log().splitlines() if re.search(r'"level": ?"ERROR"', line)]
    if errors:
        problems.append(f"{len(errors)} ERROR lines in the service log, the first: {errors[0]}")
    assert meter.result is not None
    return WebhookRun(
        workers,
        result,
        rows,
        expected,
        stored,
        unanswered,
        memory_at_start,
        memory,
        meter.result,
        (after[0] - before[0]) / max(1, after[1] - before[1]),
        problems,
    )


async def _rows_and_commits(url: str, name: str) -> tuple[int, int]:
    connection = await asyncpg.connect(url, timeout=30)
    try:
        rows = await connection.fetchval("SELECT count(*) FROM pointage_horodatage")
        commits = await connection.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name
        )
        return int(rows), int(commits)
    finally:
        await connection.close()


def _service_rss(pid: int) -> dict[str, int]:
    """The uvicorn process's VmRSS/VmHWM; with workers, the sum over the worker processes."""
    workers = children(pid)
    if not workers:
        return rss_kb(pid)
    total: Counter[str] = Counter()
    for worker in workers:
        total.update(rss_kb(worker))
    return dict(total)


def _send_again(base_url: str, runs: list[LoadResult], problems: list[str]) -> None:
    """Send again the bodies that may have been made and not answered (LoadResult.tail): each
    is then committed (answered `stored`) or already was (`duplicate`)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for run in runs:
            for signature, body in read_lines(run.bodies, run.tail()).values():
                headers = {"Content-Type": "application/json", HEADER: signature}
                answer = client.post(paths.WEBHOOK, content=body, headers=headers)
                status = answer.json().get("status")
                if answer.status_code != 200 or status not in ("stored", "duplicate"):
                    problems.append(f"sent again: {answer.status_code} {answer.text}")


# ---------------------------------------------------------------------------------------------
# Profile


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not installed (`.venv/bin/pip install py-spy`): no profile")
        return None
    command = [spy, "record", "--pid", str(pid), "--duration", f"{seconds:.0f}"]
    command += ["--rate", "200", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_LAYERS = (
    ("Runner.run (asyncio/runners.py", "the event loop itself (uvloop in C: sockets, httptools)"),
    ("service/", "service/ (our code)"),
    ("advanced_alchemy/", "Advanced Alchemy"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("asyncpg/", "asyncpg"),
    ("anyio/", "anyio (Litestar resolving dependencies in a task group)"),
    ("sniffio/", "anyio (Litestar resolving dependencies in a task group)"),
    ("litestar/", "Litestar"),
    ("msgspec", "msgspec"),
    ("prometheus_client/", "prometheus_client"),
    ("logging/", "logging"),
    ("json/", "json"),
    ("uvicorn/", "uvicorn"),
)


def _layer(frames: list[str]) -> str:
    """Who spent the time: the innermost frame of a known library or of service/ (standard
    library frames count for whoever called them)."""
    for frame in reversed(frames):
        for marker, name in _LAYERS:
            if marker in frame:
                return name
    return "the standard library (asyncio, ...)"


def _stage(frames: list[str]) -> str:
    """Which step of a delivery a stack belongs to. A greenlet's stack (SQLAlchemy's sync code,
    run by `await_only`) starts on its own: py-spy sees no link to the coroutine that started
    it, which is always the store's here."""
    first, stack = frames[0], ";".join(frames)
    if "threading.py" in first:
        return "worker threads (asyncio.to_thread: the spool)"
    if not (first.startswith(("<module>", "_run_module_as_main")) or "runpy" in first):
        return "the store (service/db/store.py, with SQLAlchemy's greenlets)"
    for marker, stage in _STAGES:
        if marker in stack:
            return stage
    return f"other: {_function(frames[-1])}"


_STAGES = (
    ("service/db/store.py", "the store (service/db/store.py, with SQLAlchemy's greenlets)"),
    ("resolve_dependencies", "Litestar resolving the handler's dependencies (anyio task group)"),
    ("report_delivery", "the delivery's log line and metrics (report_delivery)"),
    ("Intake.receive", "the intake before the store: verify, decode, parse"),
    ("receive_pointage", "the rest of the handler (read_body, the answer)"),
    ("litestar/", "Litestar around the handler (routing, request, response, uvicorn send)"),
    ("Runner.run (asyncio", "the event loop in C (uvloop: sockets, httptools, callbacks)"),
    ("uvicorn/", "uvicorn's protocol, around the app"),
)


_IDLE_WORKER = "_worker (concurrent/futures/thread.py)"


def _function(frame: str) -> str:
    return re.sub(r":\d+\)", ")", frame)


def summarize_profile(path: Path, top: int = 15) -> None:
    """Where the time goes: samples by layer of the innermost frame, by function (self), and
    the service's own functions (inclusive)."""
    own: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        leaf = frames[-1]
        if _function(leaf) == _IDLE_WORKER:
            idle += count  # py-spy counts a pool thread blocked in queue.get() as busy
            continue
        total += count
        stages[_stage(frames)] += count
        own[_function(leaf)] += count
        layers[_layer(frames)] += count
        for frame in {_function(f) for f in frames if "service/" in f}:
            inclusive[frame] += count
    if not total:
        print("profile: no samples")
        return
    print(
        f"profile: {total} samples of the busy service (200 Hz; {idle} more of idle pool "
        f"threads left out), full stacks in {path}"
    )
    print("  by step of a delivery:")
    for name, count in stages.most_common():
        print(f"    {count / total:6.1%}  {name}")
    print("  self time by layer (innermost frame of a library or of service/):")
    for name, count in layers.most_common():
        print(f"    {count / total:6.1%}  {name}")
    print(f"  self time, top {top} functions:")
    for name, count in own.most_common(top):
        print(f"    {count / total:6.1%}  {name}")
    print(f"  inclusive time, top {top} functions of service/:")
    for name, count in inclusive.most_common(top):
        print(f"    {count / total:6.1%}  {name}")


# ---------------------------------------------------------------------------------------------
# Report


def _row(path: str, measure: Measure | LoadResult) -> str:
    p50 = f"{measure.p50_ms:.1f} ms" if measure.p50_ms is not None else ""
    p99 = f"{measure.p99_ms:.1f} ms" if measure.p99_ms is not None else ""
    return f"| {path} | {measure.rps:,.0f}/s | {p50} | {p99} |"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass
class Options:
    seconds: float
    rss: bool
    profile: Path | None
    python_client: bool


def options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_webhook")
    environ = os.environ
    parser.add_argument(
        "--seconds", type=float, default=float(environ.get("BENCH_WEBHOOK_SECONDS", "10"))
    )
    parser.add_argument(
        "--rss", action="store_true", default=bool(environ.get("BENCH_WEBHOOK_RSS"))
    )
    parser.add_argument("--profile", type=Path, default=environ.get("BENCH_WEBHOOK_PROFILE"))
    parser.add_argument(
        "--python-client",
        action="store_true",
        default=environ.get("BENCH_WEBHOOK_CLIENT") == "python",
    )
    parsed = parser.parse_args(argv or [])
    profile = Path(parsed.profile).resolve() if parsed.profile else None
    return Options(parsed.seconds, parsed.rss, profile, parsed.python_client)


def main(argv: list[str] | None = None) -> int:
    chosen = options(argv)
    seconds = chosen.seconds
    generator = LoadGenerator(force_python=chosen.python_client)
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"load generator: {generator.name}, {CONNECTIONS} connections, "
        f"{WARMUP_SECONDS:.0f} s warm-up then {seconds:.0f} s per path",
        flush=True,
    )
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp,
        temporary_embedded("bench-webhook-pg-") as server_url,
    ):
        work = Path(tmp)
        postgres_pids(server_url)  # finds the postmaster now, outside any event loop
        users = employees(USERS)
        started = time.perf_counter()
        warmup = work / "warmup.txt"
        bodies = work / "bodies.txt"
        write_bodies(warmup, punches(datetime(2026, 9, 1), WARMUP_BODIES, users))
        count = int(BODIES_PER_SECOND * seconds)
        write_bodies(bodies, punches(datetime(2026, 11, 2), count, users))
        trigger_bodies = work / "trigger.txt"  # each trigger run has a database of its own
        write_bodies(trigger_bodies, punches(datetime(2026, 11, 2), TRIGGER_ROWS, users))
        print(
            f"{WARMUP_BODIES + count + TRIGGER_ROWS:,} signed bodies ({USERS} users, "
            "4 punches a day) in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

        references: dict[str, LoadResult] = {}
        cpu: dict[str, Cpu] = {}
        for key, app, factory in (
            ("trivial", "bench.endpoints:trivial", False),
            ("bare", "bench.endpoints:create_bare", True),
        ):
            server = Uvicorn(app, factory=factory, env={"BENCH_SECRET": SECRET}, log=work / key)
            try:
                generator.run(server.url, warmup, WARMUP_SECONDS)
                with CpuMeter({"server": server.pids}) as meter:
                    references[key] = generator.run(server.url, bodies, seconds)
            finally:
                server.stop()
            assert meter.result is not None
            cpu[key] = meter.result
            result = references[key]
            print(f"{key}: {result.rps:,.0f}/s, p99 {result.p99_ms:.1f} ms", flush=True)
            if result.non_2xx:
                problems.append(f"{key}: {result.non_2xx} non-2xx answers")

        plain_url = asyncio.run(create_database(server_url, "plain", schema=False))
        meter = CpuMeter(
            {"server": lambda: [os.getpid()], "postgres": lambda: postgres_pids(server_url)}
        )
        database = asyncio.run(plain_commits(plain_url, DB_SECONDS, meter))
        assert meter.result is not None
        cpu["database"] = meter.result
        print(f"plain commits: {database.rps:,.0f}/s", flush=True)

        # The same punches through the trigger: one row per commit, and batches as the group
        # commit makes them at most (4 writers; 32 rows, what 32 connections can fill).
        rows = punch_rows(trigger_bodies, TRIGGER_ROWS)
        triggers: dict[str, Measure] = {}
        for key, connections, batch in (("single", CONNECTIONS, 1), ("batched", 4, 32)):
            trigger_url = asyncio.run(create_database(server_url, f"trigger_{key}", schema=True))
            triggers[key], used = asyncio.run(
                trigger_inserts(trigger_url, rows, connections, batch, DB_SECONDS)
            )
            if used >= len(rows):
                problems.append(f"trigger inserts ({key}): the {len(rows):,} rows ran out")
            print(f"trigger inserts ({key}): {triggers[key].rps:,.0f} rows/s", flush=True)

        webhooks: dict[int, WebhookRun] = {}
        for workers in (1, 2):
            run = webhook_run(
                server_url,
                work,
                generator,
                name=f"webhook_{workers}w",
                workers=workers,
                warmup=warmup,
                bodies=bodies,
                seconds=seconds,
            )
            webhooks[workers] = run
            print(
                f"webhook, {workers} worker(s): {run.result.rps:,.0f}/s, "
                f"p99 {run.result.p99_ms:.1f} ms; {run.rows:,} rows",
                flush=True,
            )
            problems += [f"webhook, {workers} worker(s): {p}" for p in run.problems]

        rss_run: WebhookRun | None = None
        if chosen.rss:
            many = work / "many.txt"
            write_bodies(many, punches(datetime(2026, 11, 2), RSS_DELIVERIES, users))
            rss_run = webhook_run(
                server_url,
                work,
                generator,
                name="webhook_rss",
                workers=1,
                warmup=None,
                bodies=many,
                seconds=600,
                stop_at_end=True,
            )
            problems += [f"RSS run: {p}" for p in rss_run.problems]

        if chosen.profile:
            profiled = webhook_run(
                server_url,
                work,
                generator,
                name="webhook_profile",
                workers=1,
                warmup=warmup,
                bodies=bodies,
                seconds=seconds,
                profile=chosen.profile,
            )
            print(
                f"webhook under py-spy: {profiled.result.rps:,.0f}/s, "
                f"p99 {profiled.result.p99_ms:.1f} ms",
                flush=True,
            )

    report(generator, references, database, triggers, webhooks, rss_run)
    report_cpu(references, database, webhooks, cpu)
    if chosen.profile and chosen.profile.exists():
        summarize_profile(chosen.profile)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def report(
    generator: LoadGenerator,
    references: dict[str, LoadResult],
    database: Measure,
    triggers: dict[str, Measure],
    webhooks: dict[int, WebhookRun],
    rss_run: WebhookRun | None,
) -> None:
    trivial, bare, one = references["trivial"], references["bare"], webhooks[1].result
    two = webhooks[2].result
    print()
    print(f"| path ({CONNECTIONS} connections, {generator.name}) | throughput | p50 | p99 |")
    print("| --- | --- | --- | --- |")
    print(_row("the load generator's ceiling: a trivial ASGI app under uvicorn", trivial))
    print(_row("a bare Litestar POST that reads the body and checks the HMAC (HTTP)", bare))
    print(_row("raw asyncpg, single-row durable commits, plain table (database)", database))
    single_row = triggers["single"]
    print(_row("raw asyncpg, the same punches into `pointage`, a row per commit", single_row))
    print(
        _row(
            "raw asyncpg, the same punches into `pointage`, 4 connections x 32 rows per commit",
            triggers["batched"],
        )
    )
    print(_row("**the webhook, end to end, 1 worker**", one))
    print(_row("the webhook, end to end, 2 workers", two))
    print()
    ceiling = trivial.rps / bare.rps
    verdict = "not the bottleneck" if ceiling >= 1.5 else "TOO CLOSE: it may be the limit"
    print(f"generator ceiling / HTTP limit: {ceiling:.1f}x (the generator: {verdict})")
    throughput = one.rps / bare.rps
    print(
        f"webhook / HTTP limit, throughput: {throughput:.1%} "
        f"(target >= {THROUGHPUT_TARGET:.0%}: {_verdict(throughput >= THROUGHPUT_TARGET)})"
    )
    p99 = one.p99_ms / bare.p99_ms
    print(
        f"webhook / HTTP limit, p99: {p99:.1f}x "
        f"(target <= {P99_TARGET:.0f}x: {_verdict(p99 <= P99_TARGET)})"
    )
    print(f"webhook / database limit, throughput: {one.rps / database.rps:.1%}")
    single = triggers["single"].rps / database.rps
    print(
        f"trigger, a row per commit / plain commits: {single:.1%} (issue 12's target >= 50%: "
        f"{_verdict(single >= 0.5)}); batched like the group commit: "
        f"{triggers['batched'].rps / database.rps:.1%}"
    )
    batched = one.rps / triggers["batched"].rps
    print(f"webhook / trigger batched like the group commit: {batched:.1%}")
    print(f"2 workers / 1 worker, webhook throughput: {two.rps / one.rps:.2f}x")
    for workers, run in webhooks.items():
        rss = run.rss_kb.get("VmRSS", 0) / 1024
        print(
            f"webhook, {workers} worker(s): {run.rows:,} rows in pointage, "
            f"{run.expected_rows:,} deliveries sent, {run.stored_answers:,} answers 'stored' "
            f"+ {run.unanswered} not read (in flight at the stop); {run.rows_per_commit:.1f} rows "
            f"per commit; RSS {rss:.0f} MB after it"
            f"{' (all workers)' if workers > 1 else ''}"
        )
    if rss_run is None:
        print(
            f"RSS after {RSS_DELIVERIES:,} deliveries: not measured "
            "(BENCH_WEBHOOK_RSS=1 or --rss; takes a minute or two)"
        )
    else:
        start = rss_run.rss_at_start_kb.get("VmRSS", 0) / 1024
        rss = rss_run.rss_kb.get("VmRSS", 0) / 1024
        peak = rss_run.rss_kb.get("VmHWM", 0) / 1024
        print(
            f"RSS after {rss_run.rows:,} deliveries ({rss_run.result.rps:,.0f}/s, sent by "
            f"{rss_run.result.generator}): {rss:.0f} MB, "
            f"peak {peak:.0f} MB, {start:.0f} MB when it started "
            f"(target <= {RSS_TARGET_MB:.0f} MB: {_verdict(rss <= RSS_TARGET_MB)})"
        )


def report_cpu(
    references: dict[str, LoadResult],
    database: Measure,
    webhooks: dict[int, WebhookRun],
    cpu: dict[str, Cpu],
) -> None:
    """Where the cores went in each measured run: the server's processes (the bench itself for
    the database row), PostgreSQL's, the generator's; and CPU milliseconds per request. "Waiting
    for a CPU" is the server's (busiest worker's) event loop runnable with no core free: on a
    machine shared with other work, what it lost to others."""
    rows: list[tuple[str, Cpu, LoadResult | Measure]] = [
        ("trivial ASGI app", cpu["trivial"], references["trivial"]),
        ("bare Litestar POST + HMAC", cpu["bare"], references["bare"]),
        ("plain commits (server: the asyncpg client)", cpu["database"], database),
    ]
    for workers, run in webhooks.items():
        rows.append((f"webhook, {workers} worker(s)", run.cpu, run.result))
    print()
    print(
        "| measured run | server, % of a core | server waiting for a CPU | PostgreSQL "
        "| generator | machine busy | CPU ms per request: server / PostgreSQL / generator |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, used, measure in rows:
        rps = measure.rps
        generator_seconds = measure.cpu_seconds if isinstance(measure, LoadResult) else 0.0
        server = used.groups.get("server", [])
        shares = [f"{s / used.wall:.0%}" for s in server if s / used.wall >= 0.005]
        per_process = " + ".join(shares) if len(shares) > 1 else ""
        requests = rps * used.wall
        postgres = used.core_share("postgres")
        print(
            f"| {label} | {used.core_share('server'):.0%}"
            f"{f' ({per_process})' if per_process else ''} | {used.wait_share('server'):.0%} "
            f"| {postgres:.0%} | {generator_seconds / used.wall:.0%} | {used.machine_busy:.0%} "
            f"| {sum(server) / requests * 1000:.2f} / "
            f"{sum(used.groups.get('postgres', [])) / requests * 1000:.2f} / "
            f"{generator_seconds / requests * 1000:.2f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
