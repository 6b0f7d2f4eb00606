"""Steps shared by database_timeout.feature and missing_tables.feature.

Each scenario gets its own fresh database, reached by a real service process through the
fault-injecting proxy, with a 1 second connect timeout so that faults cost the suite little.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from conftest import WEBHOOK_SECRET
from simulator.company import EMPLOYEES
from simulator.deliveries import attendance_inserted
from simulator.harness import Database, ServiceProcess, wait_until
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from simulator.sender import DeliveryResult, Sender
from tests.support.databases import fresh_database
from tests.support.outage import VERIFIER, service_env

DAYS = (datetime(2026, 11, 2), datetime(2026, 11, 3))
RECOVERY_DEADLINE = 60.0  # seconds; generous, the machine is shared


@dataclass
class World:
    stack: contextlib.ExitStack
    workdir: Path
    database_url: str = ""
    database: Database | None = None
    proxy: FaultProxy | None = None
    env: dict[str, str] = field(default_factory=dict)
    service: ServiceProcess | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)
    sent_from: datetime | None = None
    sent_until: datetime | None = None

    @property
    def db(self) -> Database:
        assert self.database is not None
        return self.database

    @property
    def svc(self) -> ServiceProcess:
        assert self.service is not None
        return self.service

    def start_service(self) -> None:
        self.service = ServiceProcess(self.workdir, self.env).start()
        self.stack.callback(self.service.stop)

    def verifier(self) -> httpx.Response:
        return httpx.get(f"{self.svc.base_url}{VERIFIER}", timeout=30)


@pytest.fixture
def world(postgres_server_url: str, tmp_path: Path) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        outage = World(stack, tmp_path)
        outage.database_url = stack.enter_context(fresh_database(postgres_server_url, "outage"))
        outage.database = Database(outage.database_url)
        outage.proxy = stack.enter_context(FaultProxy(upstream_of(outage.database_url)).start())
        yield outage


def _through_proxy(world: World, **extra: str) -> None:
    assert world.proxy is not None
    url = proxied_url(world.database_url, world.proxy.port)
    world.env = service_env(url, world.workdir, **extra)
    world.start_service()


@given("the pointage service reaches a fresh PostgreSQL through a fault-injecting proxy")
def service_through_proxy(world: World) -> None:
    _through_proxy(world)  # SCHEMA_AUTO_APPLY is on: the service applies the schema


@given("the pointage service reaches a fresh PostgreSQL that has no pointage tables")
def service_without_tables(world: World) -> None:
    _through_proxy(world, SCHEMA_AUTO_APPLY="false")


@when("the database stops answering")
def database_silent(world: World) -> None:
    assert world.proxy is not None
    world.proxy.set_mode("blackhole")


@when("the database answers again")
def database_back(world: World) -> None:
    assert world.proxy is not None
    world.proxy.set_mode("pass")


@when(parsers.parse("TimeMoto delivers two days of punches for {count:d} employees"))
def deliver_two_days(world: World, count: int) -> None:
    """In at 08:00 and out at 17:00 on each day: 540 minutes a day for everyone."""
    world.deliveries = [
        attendance_inserted(employee, action, day.replace(hour=hour))
        for day in DAYS
        for employee in EMPLOYEES[:count]
        for action, hour in ((0, 8), (1, 17))
    ]

    async def go() -> list[DeliveryResult]:
        async with httpx.AsyncClient(base_url=world.svc.base_url, timeout=30) as client:
            sender = Sender(client, WEBHOOK_SECRET, retries=0)
            return [await sender.deliver(delivery) for delivery in world.deliveries]

    world.sent_from = datetime.now(UTC)
    world.results = asyncio.run(go())
    world.sent_until = datetime.now(UTC)


@when("the service is killed with kill -9")
def kill_service(world: World) -> None:
    world.svc.kill()


@when("the service starts again on the same spool")
def restart_service(world: World) -> None:
    world.start_service()


@when("the DBA applies the schema with python -m service db apply")
def dba_applies_schema(world: World) -> None:
    env = {**os.environ, "DATABASE_URL": world.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "service", "db", "apply"],
        env=env,
        cwd=world.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@then(parsers.parse('every delivery is answered {code:d} "{status}"'))
def every_delivery_answered(world: World, code: int, status: str) -> None:
    answers = [(r.status_code, r.answer.get("status")) for r in world.results]
    assert answers == [(code, status)] * len(world.deliveries)
    assert all(r.log_status == "Completed" for r in world.results)


@then("the verifier answers 503: the database does not answer")
def verifier_unreachable(world: World) -> None:
    answer = world.verifier()
    assert answer.status_code == 503
    assert answer.json()["database"]["reachable"] is False
    assert "did not answer in time" in answer.json()["database"]["error"]


@then("the verifier answers 503 naming every missing object")
def verifier_names_missing(world: World) -> None:
    from service.db.schema import EXPECTED_OBJECTS

    answer = world.verifier()
    assert answer.status_code == 503
    assert answer.json()["database"]["reachable"] is True
    assert answer.json()["missing"] == [name for name, _ in EXPECTED_OBJECTS]


@then(parsers.parse("the verifier counts {count:d} deliveries waiting in the spool"))
def verifier_counts_spool(world: World, count: int) -> None:
    assert world.verifier().json()["spool"]["pending"] == count


@then(parsers.parse('the service log says once "{text}"'))
def log_says_once(world: World, text: str) -> None:
    assert world.svc.log().count(text) == 1, world.svc.log()


@then("pointage holds every queued punch with its time of arrival")
def pointage_holds_all(world: World) -> None:
    ids = [delivery["id"] for delivery in world.deliveries]

    def all_there() -> bool:
        query = "SELECT count(*) FROM pointage WHERE event_id = ANY($1::text[])"
        return int(world.db.value(query, ids)) == len(ids)

    assert wait_until(all_there, RECOVERY_DEADLINE), world.svc.log()
    arrivals = world.db.fetch("SELECT recu_le FROM pointage WHERE event_id = ANY($1::text[])", ids)
    assert world.sent_from is not None and world.sent_until is not None
    assert all(world.sent_from <= row["recu_le"] <= world.sent_until for row in arrivals)


@then(
    parsers.parse(
        "pointage_resume counts {minutes:d} minutes over {days:d} days and {punches:d} punches"
        " for each of the {count:d} employees"
    )
)
def summaries_right(world: World, minutes: int, days: int, punches: int, count: int) -> None:
    rows = world.db.fetch(
        "SELECT timemoto_user_id, mois, minutes_travaillees, jours_travailles, nb_pointages,"
        " nb_anomalies FROM pointage_resume ORDER BY timemoto_user_id"
    )
    assert sorted(
        (
            row["timemoto_user_id"],
            str(row["mois"]),
            row["minutes_travaillees"],
            row["jours_travailles"],
            row["nb_pointages"],
            row["nb_anomalies"],
        )
        for row in rows
    ) == sorted(
        (employee.user_id, "2026-11-01", minutes, days, punches, 0)
        for employee in EMPLOYEES[:count]
    )


@then("the verifier answers ok with an empty spool")
def verifier_ok_and_empty(world: World) -> None:
    def ok() -> bool:
        answer = world.verifier()
        return answer.status_code == 200 and answer.json()["spool"]["pending"] == 0

    assert wait_until(ok, RECOVERY_DEADLINE), world.verifier().text
