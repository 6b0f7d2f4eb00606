"""The simulator's sender: signing, and TimeMoto-like retries (HTTP mocked with respx)."""

from __future__ import annotations

import asyncio
import json

import httpx
import respx

from service.signature import verify
from simulator.deliveries import Employee, attendance_inserted
from simulator.sender import WEBHOOK_PATH, Sender

BASE = "http://timemoto-target.test"
EMPLOYEE = Employee("u-1", "Amira", "Ben Salah", "LP-014")


def a_delivery() -> dict:
    from datetime import datetime

    return attendance_inserted(EMPLOYEE, 0, datetime(2026, 11, 30, 8, 0))


def deliver(delivery: dict, **options: float) -> object:
    async def go() -> object:
        async with httpx.AsyncClient(base_url=BASE) as client:
            return await Sender(client, "secret", backoff=0, **options).deliver(delivery)  # type: ignore[arg-type]

    return asyncio.run(go())


@respx.mock
def test_the_body_is_signed_and_sent_as_json() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(200, json={"status": "stored"})
    )
    delivery = a_delivery()
    result = deliver(delivery)
    request = route.calls.last.request
    assert verify(request.content, request.headers["Timemoto-Signature"], ["secret"])
    assert json.loads(request.content) == delivery
    assert result.log_status == "Completed" and result.attempts == 1


@respx.mock
def test_5xx_and_transport_errors_are_retried_until_success() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        side_effect=[
            httpx.Response(503, json={"status": "error"}),
            httpx.ConnectError("refused"),
            httpx.Response(202, json={"status": "queued"}),
        ]
    )
    result = deliver(a_delivery(), retries=3)
    assert route.call_count == 3
    assert result.completed and result.attempts == 3
    assert result.answer == {"status": "queued"}


@respx.mock
def test_a_4xx_refusal_is_not_retried_and_fails() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(401, json={"status": "error"})
    )
    result = deliver(a_delivery(), retries=3)
    assert route.call_count == 1
    assert result.log_status == "Failed" and result.status_code == 401


@respx.mock
def test_retries_run_out() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(side_effect=httpx.ReadTimeout("slow"))
    result = deliver(a_delivery(), retries=2)
    assert route.call_count == 3
    assert result.status_code is None and "ReadTimeout" in (result.error or "")
    assert result.log_status == "Failed"
