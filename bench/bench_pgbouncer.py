"""The webhook on a Debian PostgreSQL cluster, direct and through PgBouncer, side by side.

`python -m bench pgbouncer` (or `make bench`): one cluster (tests/support/clusters.py), one
fresh database per run, the real service (ServiceProcess), wrk (or the Python client) with 32
connections for `BENCH_PGBOUNCER_SECONDS` (default 10) after a 2 s warm-up: first with
`DATABASE_URL` on PostgreSQL, then on PgBouncer (transaction mode, a pool of 5, its defaults
otherwise). Prints each run's rate, p50, p99, rows stored, and the CPU milliseconds per delivery
of the service, PostgreSQL and PgBouncer. Skipped, saying why, where Debian's PostgreSQL or
PgBouncer cannot be installed. Fails only when a count is wrong.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from bench.bench_webhook import (
    SECRET,
    USERS,
    UVICORN_ENV,
    CpuMeter,
    LoadGenerator,
    children,
    create_database,
    employees,
    fetch_value,
    punches,
    write_bodies,
)
from service.http import paths
from simulator.harness import ServiceProcess
from tests.support.clusters import Cluster, Clusters
from tests.support.pgbouncer import pgbouncer

SECONDS = float(os.environ.get("BENCH_PGBOUNCER_SECONDS", "10"))
WARMUP_SECONDS = 2.0
BODIES_PER_SECOND = 4_000  # more than the webhook takes here: no body is sent twice
PASSWORD = "bench"  # noqa: S105 - a throwaway cluster's


def _run(
    server: Cluster, work: Path, generator: LoadGenerator, index: int, via_pgbouncer: bool
) -> list[str]:
    """One measured run; its line, and the problems found."""
    name = f"bench_{index}"
    url = asyncio.run(create_database(server.url(password=PASSWORD), name, schema=True))
    users = employees(USERS)
    warmup, bodies = work / f"warmup-{index}.txt", work / f"bodies-{index}.txt"
    write_bodies(warmup, punches(datetime(2026, 9, 1 + index), 4_000, users))
    write_bodies(
        bodies, punches(datetime(2026, 11, 2 + index), int(BODIES_PER_SECOND * SECONDS), users)
    )

    def measure(service_url: str, bouncer_pid: int | None) -> list[str]:
        env = {
            "TIMEMOTO_WEBHOOK_SECRET": SECRET,
            "DATABASE_URL": service_url,
            "DATA_DIR": str(work / name),
            "SPOOL_DIR": str(work / name / "spool"),
            "LOG_FORMAT": "json",
            **UVICORN_ENV,
        }
        service = ServiceProcess(work / name, env).start()
        assert service.process is not None and server.pid is not None
        pid, postmaster = service.process.pid, server.pid
        try:
            target = f"{service.base_url}{paths.WEBHOOK}"
            generator.run(target, warmup, WARMUP_SECONDS)
            groups = {
                "server": lambda: children(pid) or [pid],
                "postgres": lambda: children(postmaster),
                "pgbouncer": lambda: [bouncer_pid] if bouncer_pid else [],
            }
            with CpuMeter(groups) as meter:
                result = generator.run(target, bodies, SECONDS)
        finally:
            service.stop()
        rows = asyncio.run(fetch_value(url, "SELECT count(*) FROM pointage_horodatage"))
        assert meter.result is not None
        per = {
            group: 1000 * sum(meter.result.groups.get(group, [])) / max(1, result.requests)
            for group in groups
        }
        label = "through PgBouncer" if bouncer_pid else "direct"
        print(
            f"| {label} | {result.rps:,.0f}/s | {result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms "
            f"| {rows:,} | {per['server']:.2f} / {per['postgres']:.2f} / {per['pgbouncer']:.2f} |",
            flush=True,
        )
        answered = result.answers()["stored"]
        if result.non_2xx or rows < answered:
            return [f"{label}: {result.non_2xx} non-2xx answers, {rows} rows for {answered} stored"]
        return []

    if not via_pgbouncer:
        return measure(url, None)
    with pgbouncer(
        server, {"postgres": PASSWORD}, database=name, settings={"default_pool_size": "5"}
    ) as bouncer:
        assert bouncer.process is not None
        return measure(bouncer.url("postgres"), bouncer.process.pid)


def main() -> int:
    generator = LoadGenerator(force_python=False)
    load = os.getloadavg()
    print(
        f"load average {load[0]:.2f}; load generator: {generator.name}; "
        f"{WARMUP_SECONDS:.0f} s warm-up then {SECONDS:.0f} s per run",
        flush=True,
    )
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-pgbouncer-") as tmp:
        try:
            with Clusters(Path(tmp)) as clusters:
                server = clusters.start(
                    hba=["host all all 127.0.0.1/32 scram-sha-256"],
                    conf={"max_connections": "100", "fsync": "on"},
                )
                server.sql(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
                print("| DATABASE_URL | throughput | p50 | p99 | rows | CPU ms per delivery: "
                      "service / PostgreSQL / PgBouncer |")  # fmt: skip
                print("| --- | --- | --- | --- | --- | --- |")
                for index, via in enumerate((False, True)):
                    problems += _run(server, Path(tmp), generator, index, via)
        except pytest.skip.Exception as skipped:
            print(f"not measured: {skipped}")
            return 0
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
