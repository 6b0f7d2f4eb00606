"""The steps of every feature (pytest-bdd finds steps in a conftest.py) and their world.

webhook_delivery.feature runs on the module's service, in this process (the root conftest's
`service`). database_timeout.feature and missing_tables.feature give each scenario its own fresh
database, reached through the fault-injecting proxy with a 1 second connect timeout so that
faults cost the suite little; the service runs in this process too, except in the scenarios that
kill it with kill -9, where it is a real process (started before the scenario's first step, so
the hook below decides which from the scenario's steps).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when
from pytest_bdd.parser import Feature, Scenario

from service.db.schema import EXPECTED_OBJECTS
from simulator.company import EMPLOYEES, a_day_of_punches
from simulator.deliveries import attendance_inserted
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from simulator.sender import DeliveryResult, Sender
from tests.support.databases import Database, fresh_database
from tests.support.service import (
    InProcessService,
    RunningService,
    ServiceProcess,
    assert_logged_once,
    service_cli,
    service_env,
    service_settings,
    wait_until,
)
from tests.support.webhook import SECRET, verifier

DAY = datetime(2026, 11, 2)
DAYS = (datetime(2026, 11, 2), datetime(2026, 11, 3))
RECOVERY_DEADLINE = 60.0  # seconds; generous, the machine is shared

# Steps that only a real process can take: a scenario with one runs the service as a process.
PROCESS_STEPS = {"the service is killed with kill -9", "the service starts again on the same spool"}
NEEDS_A_PROCESS = pytest.StashKey[bool]()


def pytest_bdd_before_scenario(
    request: pytest.FixtureRequest, feature: Feature, scenario: Scenario
) -> None:
    steps = {step.name for step in scenario.steps}
    request.node.stash[NEEDS_A_PROCESS] = bool(steps & PROCESS_STEPS)


@dataclass
class World:
    """What a scenario has: its database, its service, what TimeMoto sent and what it got back."""

    stack: contextlib.ExitStack
    workdir: Path
    real_process: bool = False
    database_url: str = ""
    database: Database | None = None
    proxy: FaultProxy | None = None
    service_url: str = ""  # the database URL the service is given
    schema_auto_apply: bool = True
    service: RunningService | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    results: list[DeliveryResult] = field(default_factory=list)
    sent_from: datetime | None = None
    sent_until: datetime | None = None

    @property
    def db(self) -> Database:
        assert self.database is not None
        return self.database

    @property
    def svc(self) -> RunningService:
        assert self.service is not None
        return self.service

    def start_service(self) -> None:
        """Start the service on `service_url` (again, on the same spool, after a kill)."""
        service: RunningService
        if self.real_process:
            env = service_env(self.service_url, self.workdir, quick=True)
            if not self.schema_auto_apply:
                env["SCHEMA_AUTO_APPLY"] = "false"
            service = ServiceProcess(self.workdir, env).start()
        else:
            settings = service_settings(
                self.service_url,
                self.workdir,
                quick=True,
                schema_auto_apply=self.schema_auto_apply,
            )
            service = InProcessService(settings).start()
        self.service = service
        self.stack.callback(service.stop)

    def verifier(self) -> httpx.Response:
        return verifier(self.svc.client)

    def send(self, deliveries: list[dict[str, Any]], secret: str = SECRET) -> None:
        """TimeMoto's sender, one delivery after another, no retries."""

        async def go() -> list[DeliveryResult]:
            async with self.svc.async_client() as client:
                sender = Sender(client, secret, retries=0)
                return [await sender.deliver(delivery) for delivery in deliveries]

        self.deliveries = deliveries
        self.sent_from = datetime.now(UTC)
        self.results = asyncio.run(go())
        self.sent_until = datetime.now(UTC)


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        yield World(stack, tmp_path, real_process=request.node.stash.get(NEEDS_A_PROCESS, False))


# webhook_delivery.feature


@given("the pointage service is running on a real PostgreSQL")
def service_running(world: World, service: InProcessService, database: Database) -> None:
    world.service, world.database = service, database  # the module's: not stopped by the world


@when(parsers.parse("TimeMoto delivers a day of punches for {count:d} employees"))
def deliver_a_day(world: World, count: int) -> None:
    assert count == len(EMPLOYEES)
    world.send(a_day_of_punches(DAY))


@then(parsers.parse('every delivery is answered "{status}"'))
def every_answer(world: World, status: str) -> None:
    assert [r.answer.get("status") for r in world.results] == [status] * len(world.deliveries)


@then(parsers.parse("pointage holds {per_employee:d} punches for each of the {count:d} employees"))
def punches_per_employee(world: World, per_employee: int, count: int) -> None:
    ids = [delivery["id"] for delivery in world.deliveries]
    rows = world.db.fetch(
        "SELECT timemoto_user_id, count(*) AS n FROM pointage_horodatage"
        " WHERE event_id = ANY($1::text[]) GROUP BY 1",
        ids,
    )
    assert {row["timemoto_user_id"]: row["n"] for row in rows} == {
        employee.user_id: per_employee for employee in EMPLOYEES[:count]
    }


@then("the verifier answers ok")
def verifier_ok(world: World) -> None:
    answer = world.verifier()
    assert answer.status_code == 200 and answer.json()["ok"] is True


@when("TimeMoto delivers the same punch twice")
def deliver_twice(world: World) -> None:
    delivery = attendance_inserted(EMPLOYEES[0], 0, DAY.replace(day=3, hour=8))
    world.send([delivery, delivery])


@then(parsers.parse('the answers are "{first}" then "{second}"'))
def answers_in_order(world: World, first: str, second: str) -> None:
    assert [r.answer.get("status") for r in world.results] == [first, second]


@then("pointage holds that punch once")
def held_once(world: World) -> None:
    count = world.db.value(
        "SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", world.deliveries[0]["id"]
    )
    assert count == 1


@when("a delivery is signed with the wrong secret")
def wrong_secret(world: World) -> None:
    delivery = attendance_inserted(EMPLOYEES[1], 0, DAY.replace(day=4, hour=8))
    world.send([delivery], secret="not-the-secret")


@then(parsers.parse('it is answered {code:d} with status "{status}"'))
def answered(world: World, code: int, status: str) -> None:
    (result,) = world.results
    assert result.status_code == code and result.answer.get("status") == status


@then("pointage does not hold it")
def not_held(world: World) -> None:
    count = world.db.value(
        "SELECT count(*) FROM pointage_horodatage WHERE event_id = $1", world.deliveries[0]["id"]
    )
    assert count == 0


# database_timeout.feature and missing_tables.feature


def _through_proxy(world: World, postgres_server_url: str, schema_auto_apply: bool) -> None:
    world.database_url = world.stack.enter_context(fresh_database(postgres_server_url, "outage"))
    world.database = Database(world.database_url)
    world.proxy = world.stack.enter_context(FaultProxy(upstream_of(world.database_url)).start())
    world.service_url = proxied_url(world.database_url, world.proxy.port)
    world.schema_auto_apply = schema_auto_apply
    world.start_service()


@given("the pointage service reaches a fresh PostgreSQL through a fault-injecting proxy")
def service_through_proxy(world: World, postgres_server_url: str) -> None:
    _through_proxy(world, postgres_server_url, schema_auto_apply=True)  # it applies the schema


@given("the pointage service reaches a fresh PostgreSQL that has no pointage tables")
def service_without_tables(world: World, postgres_server_url: str) -> None:
    _through_proxy(world, postgres_server_url, schema_auto_apply=False)


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
    world.send(
        [
            attendance_inserted(employee, action, day.replace(hour=hour))
            for day in DAYS
            for employee in EMPLOYEES[:count]
            for action, hour in ((0, 8), (1, 17))
        ]
    )


@when("the service is killed with kill -9")
def kill_service(world: World) -> None:
    assert isinstance(world.service, ServiceProcess), "only a real process can be killed"
    world.service.kill()


@when("the service starts again on the same spool")
def restart_service(world: World) -> None:
    world.start_service()


@when("the DBA applies the schema with python -m service db apply")
def dba_applies_schema(world: World) -> None:
    result = service_cli(["db", "apply"], {"DATABASE_URL": world.database_url}, world.workdir)
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
    answer = world.verifier()
    assert answer.status_code == 503
    assert answer.json()["database"]["reachable"] is True
    assert answer.json()["missing"] == [name for name, _ in EXPECTED_OBJECTS]


@then(parsers.parse("the verifier counts {count:d} deliveries waiting in the spool"))
def verifier_counts_spool(world: World, count: int) -> None:
    assert world.verifier().json()["spool"]["pending"] == count


@then(parsers.parse('the service log says once "{text}"'))
def log_says_once(world: World, text: str) -> None:
    assert_logged_once(world.svc, text)


@then("pointage holds every queued punch with its time of arrival")
def pointage_holds_all(world: World) -> None:
    ids = [delivery["id"] for delivery in world.deliveries]

    def all_there() -> bool:
        query = "SELECT count(*) FROM pointage_horodatage WHERE event_id = ANY($1::text[])"
        return int(world.db.value(query, ids)) == len(ids)

    assert wait_until(all_there, RECOVERY_DEADLINE), world.svc.log()
    arrivals = world.db.fetch(
        "SELECT recu_le FROM pointage_horodatage WHERE event_id = ANY($1::text[])", ids
    )
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
        " nb_anomalies FROM pointage_resume_mensuel ORDER BY timemoto_user_id"
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
