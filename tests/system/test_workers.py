"""More than one process: `uvicorn --workers 2` on one database and one spool.

Under load, one worker is killed with SIGKILL, then the other once the first is back (uvicorn's
supervisor restarts them): every acknowledged delivery is in `pointage` once, and the monthly
summaries equal the reference model's.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psutil
import pytest

from service.db.schema import schema_sql
from service.domain.signature import sign
from service.http import paths
from simulator.company import a_day_of_punches
from simulator.expectations import database_totals, differences, expected_totals
from tests.support.databases import Database
from tests.support.service import ServiceProcess, service_env, wait_until
from tests.support.webhook import SECRET, TLS

DAYS = 20  # 3 employees x 4 punches x 20 days: 240 deliveries
THREADS = 6


@pytest.fixture
def two_workers(
    database_url: str, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    database.execute(schema_sql())
    workdir = tmp_path_factory.mktemp("workers")
    with ServiceProcess(workdir, service_env(database_url, workdir), workers=2) as running:
        yield running


def workers(service: ServiceProcess) -> list[psutil.Process]:
    """uvicorn's worker processes (its other children, such as multiprocessing's resource
    tracker, are not workers)."""
    assert service.process is not None
    found = []
    for child in psutil.Process(service.process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone, or a zombie not yet reaped by the supervisor
            continue
    return found


def deliver(base_url: str, document: dict[str, Any]) -> int:
    """Until the service answers: a worker killed mid-request drops its connections."""
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, SECRET)}
    for _ in range(50):
        try:
            response = httpx.post(
                f"{base_url}{paths.WEBHOOK}", content=body, headers=headers, timeout=30, verify=TLS
            )
        except httpx.TransportError:
            continue
        if response.status_code < 500:
            return response.status_code
    raise AssertionError(f"{document['id']} was never answered")


def test_two_workers_killed_in_turn_lose_nothing(
    two_workers: ServiceProcess, database: Database
) -> None:
    first, second = workers(two_workers)
    deliveries = [
        delivery
        for day in range(DAYS)
        for delivery in a_day_of_punches(datetime(2026, 10, 1) + timedelta(days=day))
    ]
    acknowledged: list[str] = []
    lock = threading.Lock()
    queue = list(deliveries)

    def send() -> None:
        while True:
            with lock:
                if not queue:
                    return
                document = queue.pop()
            if deliver(two_workers.base_url, document) in (200, 202):
                with lock:
                    acknowledged.append(str(document["id"]))

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: len(acknowledged) >= len(deliveries) // 3, 60)
    first.send_signal(signal.SIGKILL)
    assert wait_until(lambda: first.pid not in {w.pid for w in workers(two_workers)}, 30)
    assert wait_until(lambda: len(workers(two_workers)) == 2, 60)  # the supervisor restarted it
    assert wait_until(lambda: len(acknowledged) >= 2 * len(deliveries) // 3, 60)
    second.send_signal(signal.SIGKILL)
    assert wait_until(lambda: second.pid not in {w.pid for w in workers(two_workers)}, 30)
    for thread in threads:
        thread.join(120)
    assert len(acknowledged) == len(deliveries)

    def stored() -> int:
        return int(database.value("SELECT count(*) FROM pointage_horodatage"))

    assert wait_until(lambda: stored() == len(deliveries), 120), stored()
    ids = {row["event_id"] for row in database.fetch("SELECT event_id FROM pointage_horodatage")}
    assert ids == set(acknowledged)  # each once: event_id is unique
    lines = [json.dumps(delivery) for delivery in deliveries]
    assert differences(expected_totals(lines), database_totals(database)) == []
    pids = {
        line.split('pid="')[1].split('"')[0]
        for _ in range(10)
        for line in httpx.get(
            f"{two_workers.base_url}{paths.METRICS}", timeout=30
        ).text.splitlines()
        if line.startswith("timemoto_worker_info")
    }
    assert pids <= {str(w.pid) for w in workers(two_workers)}
