"""The database black-holed behind the proxy: 200 deliveries answered 202 at once, then written.

Targets: every delivery answered 202 "queued"; the first within the connect timeout plus one
second (it is the one that finds the database gone), each of the others under 100 ms (the circuit
breaker is open); all 200 in `pointage` within 30 s of the database's return.
Runs on the embedded PostgreSQL in a temporary directory unless DATABASE_URL is set.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from service.db.embedded import temporary_embedded
from service.domain.signature import sign
from service.http import paths
from simulator.company import EMPLOYEES
from simulator.deliveries import attendance_inserted
from simulator.harness import Database, ServiceProcess, wait_until
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from simulator.sender import encode

DELIVERIES = 200
CONNECT_TIMEOUT = 2.0
SECRET = "bench-outage-secret"  # noqa: S105 - a throwaway secret for a local run
RETURN_DEADLINE = 30.0


def database_url(stack: contextlib.ExitStack) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    return stack.enter_context(temporary_embedded("bench-outage-pg-"))


def post(client: httpx.Client, delivery: dict[str, object]) -> tuple[float, int, str]:
    body = encode(delivery)
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, SECRET)}
    started = time.perf_counter()
    response = client.post(paths.WEBHOOK, content=body, headers=headers)
    return time.perf_counter() - started, response.status_code, response.json().get("status")


def punches(count: int) -> list[dict[str, object]]:
    start = datetime(2026, 10, 1, 8, 0)
    return [
        attendance_inserted(EMPLOYEES[n % len(EMPLOYEES)], n % 2, start + timedelta(hours=n))
        for n in range(count)
    ]


def main() -> int:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-outage-")))
        url = database_url(stack)
        with FaultProxy(upstream_of(url)).start() as proxy:
            env = {
                "TIMEMOTO_WEBHOOK_SECRET": SECRET,
                "DATABASE_URL": proxied_url(url, proxy.port),
                "SPOOL_DIR": str(workdir / "spool"),
                "DATA_DIR": str(workdir / "data"),
                "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
                "LOG_LEVEL": "WARNING",
            }
            with (
                ServiceProcess(workdir / "service", env) as service,
                httpx.Client(base_url=service.base_url, timeout=60) as client,
            ):
                return run(client, proxy, Database(url))


def run(client: httpx.Client, proxy: FaultProxy, db: Database) -> int:
    warm = [post(client, delivery)[2] for delivery in punches(3)]  # a pool of live connections
    deliveries = punches(DELIVERIES + 3)[3:]
    proxy.set_mode("blackhole")
    results = [post(client, delivery) for delivery in deliveries]
    started = time.perf_counter()
    verifier = client.get(paths.VERIFIER).json()
    verifier_s = time.perf_counter() - started

    proxy.set_mode("pass")
    returned = time.perf_counter()
    ids = [str(delivery["id"]) for delivery in deliveries]
    query = "SELECT count(*) FROM pointage_horodatage WHERE event_id = ANY($1::text[])"
    all_in = wait_until(lambda: db.value(query, ids) == DELIVERIES, RETURN_DEADLINE, 0.1)
    drained_s = time.perf_counter() - returned
    stored = db.value(query, ids)

    first, rest = results[0][0], sorted(r[0] for r in results[1:])
    p50, p99 = statistics.median(rest), rest[int(len(rest) * 0.99) - 1]
    queued = sum(1 for _, code, status in results if (code, status) == (202, "queued"))
    print(f"warm-up (database up): {warm}")
    print(f"black hole: {queued}/{DELIVERIES} answered 202 queued")
    print(f"  first answer: {first * 1000:.0f} ms (target < {(CONNECT_TIMEOUT + 1) * 1000:.0f})")
    print(f"  the other {len(rest)}: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms,")
    print(f"  max {rest[-1] * 1000:.1f} ms (target < 100 each)")
    print(
        f"  verifier: reachable={verifier['database']['reachable']}, spool pending "
        f"{verifier['spool']['pending']}, answered in {verifier_s * 1000:.0f} ms"
    )
    print(
        f"database back: {stored}/{DELIVERIES} in pointage after {drained_s:.2f} s "
        f"(target < {RETURN_DEADLINE:.0f})"
    )
    ok = queued == DELIVERIES and first < CONNECT_TIMEOUT + 1 and rest[-1] < 0.1 and all_in
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1
