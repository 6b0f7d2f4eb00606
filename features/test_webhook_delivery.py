"""Steps for webhook_delivery.feature: the simulator delivers to a running service."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from pytest_bdd import given, parsers, scenarios, then, when

from conftest import WEBHOOK_SECRET
from simulator.company import EMPLOYEES, a_day_of_punches
from simulator.deliveries import attendance_inserted
from simulator.harness import Database, ServiceProcess
from simulator.sender import DeliveryResult, Sender

scenarios("webhook_delivery.feature")

DAY = datetime(2026, 11, 2)


def send(service: ServiceProcess, deliveries: list[dict[str, Any]], secret: str = WEBHOOK_SECRET):
    async def go() -> list[DeliveryResult]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
            sender = Sender(client, secret, retries=0)
            return [await sender.deliver(delivery) for delivery in deliveries]

    return asyncio.run(go())


@given("the pointage service is running on a real PostgreSQL", target_fixture="context")
def context(service: ServiceProcess, database: Database) -> dict[str, Any]:
    return {"service": service, "database": database}


@when(parsers.parse("TimeMoto delivers a day of punches for {count:d} employees"))
def deliver_a_day(context: dict[str, Any], count: int) -> None:
    assert count == len(EMPLOYEES)
    context["deliveries"] = a_day_of_punches(DAY)
    context["results"] = send(context["service"], context["deliveries"])


@then(parsers.parse('every delivery is answered "{status}"'))
def every_answer(context: dict[str, Any], status: str) -> None:
    assert [r.answer.get("status") for r in context["results"]] == [status] * len(
        context["deliveries"]
    )


@then(parsers.parse("pointage holds {per_employee:d} punches for each of the {count:d} employees"))
def punches_per_employee(context: dict[str, Any], per_employee: int, count: int) -> None:
    ids = [delivery["id"] for delivery in context["deliveries"]]
    rows = context["database"].fetch(
        "SELECT timemoto_user_id, count(*) AS n FROM pointage WHERE event_id = ANY($1::text[])"
        " GROUP BY 1",
        ids,
    )
    assert {row["timemoto_user_id"]: row["n"] for row in rows} == {
        employee.user_id: per_employee for employee in EMPLOYEES[:count]
    }


@then("the verifier answers ok")
def verifier_ok(context: dict[str, Any]) -> None:
    url = f"{context['service'].base_url}/api/database/verifier-tables-pointage"
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200 and answer.json()["ok"] is True


@when("TimeMoto delivers the same punch twice")
def deliver_twice(context: dict[str, Any]) -> None:
    delivery = attendance_inserted(EMPLOYEES[0], 0, DAY.replace(day=3, hour=8))
    context["delivery"] = delivery
    context["results"] = send(context["service"], [delivery, delivery])


@then(parsers.parse('the answers are "{first}" then "{second}"'))
def answers_in_order(context: dict[str, Any], first: str, second: str) -> None:
    assert [r.answer.get("status") for r in context["results"]] == [first, second]


@then("pointage holds that punch once")
def held_once(context: dict[str, Any]) -> None:
    count = context["database"].value(
        "SELECT count(*) FROM pointage WHERE event_id = $1", context["delivery"]["id"]
    )
    assert count == 1


@when("a delivery is signed with the wrong secret")
def wrong_secret(context: dict[str, Any]) -> None:
    delivery = attendance_inserted(EMPLOYEES[1], 0, DAY.replace(day=4, hour=8))
    context["delivery"] = delivery
    context["results"] = send(context["service"], [delivery], secret="not-the-secret")


@then(parsers.parse('it is answered {code:d} with status "{status}"'))
def answered(context: dict[str, Any], code: int, status: str) -> None:
    (result,) = context["results"]
    assert result.status_code == code and result.answer.get("status") == status


@then("pointage does not hold it")
def not_held(context: dict[str, Any]) -> None:
    count = context["database"].value(
        "SELECT count(*) FROM pointage WHERE event_id = $1", context["delivery"]["id"]
    )
    assert count == 0
