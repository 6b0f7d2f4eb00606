"""The simulator's sender: signing, and TimeMoto-like retries (HTTP mocked with respx)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from service.domain.signature import verify
from service.http.paths import WEBHOOK as WEBHOOK_PATH
from simulator.deliveries import Employee, attendance_inserted
from simulator.sender import DeliveryLog, Sender, deliver_all, ordered

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
def test_a_4xx_refusal_is_retried_like_any_non_2xx_and_fails() -> None:
    """TimeMoto counts every non-2xx answer as a failed attempt and tries again."""
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(401, json={"status": "error"})
    )
    result = deliver(a_delivery(), retries=3)
    assert route.call_count == 4
    assert result.log_status == "Failed" and result.status_code == 401
    assert result.failed_attempts == 4


@respx.mock
def test_retries_run_out() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(side_effect=httpx.ReadTimeout("slow"))
    result = deliver(a_delivery(), retries=2)
    assert route.call_count == 3
    assert result.status_code is None and "ReadTimeout" in (result.error or "")
    assert result.log_status == "Failed"


def deliveries(count: int) -> list[dict]:
    from datetime import datetime, timedelta

    start = datetime(2026, 11, 2, 8, 0)
    return [
        attendance_inserted(EMPLOYEE, 0, start + timedelta(minutes=n), event_id=f"tm_{n:04d}")
        for n in range(count)
    ]


def deliver_many(batch: list[dict], **options: object) -> DeliveryLog:
    async def go() -> DeliveryLog:
        async with httpx.AsyncClient(base_url=BASE) as client:
            return await deliver_all(client, "secret", batch, backoff=0, **options)  # type: ignore[arg-type]

    return asyncio.run(go())


def sent_ids(route: respx.Route) -> list[str]:
    return [json.loads(call.request.content)["id"] for call in route.calls]


@respx.mock
def test_one_worker_delivers_strictly_in_order() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(200, json={"status": "stored"})
    )
    batch = deliveries(20)
    log = deliver_many(batch, concurrency=1)
    assert sent_ids(route) == [d["id"] for d in batch]
    assert [r.event_id for r in log.results] == [d["id"] for d in batch]


@respx.mock
def test_many_workers_deliver_each_delivery_exactly_once() -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(200, json={"status": "stored"})
    )
    batch = deliveries(50)
    log = deliver_many(batch, concurrency=8)
    assert sorted(sent_ids(route)) == sorted(d["id"] for d in batch)
    assert log.count("Completed") == 50 and log.count("Failed") == 0


def test_shuffling_is_a_permutation_fixed_by_its_seed() -> None:
    batch = deliveries(30)
    once, again = ordered(batch, True, 7), ordered(batch, True, 7)
    assert once == again
    assert once != batch and sorted(d["id"] for d in once) == [d["id"] for d in batch]
    assert ordered(batch, False, 7) == batch


@respx.mock
def test_the_log_counts_failed_attempts_as_timemoto_error_rate() -> None:
    """Two deliveries: one fails once then is queued, one is refused on every attempt."""
    batch = deliveries(2)
    answers = {
        batch[0]["id"]: iter([httpx.Response(503), httpx.Response(202, json={"status": "queued"})]),
        batch[1]["id"]: iter([httpx.Response(422, json={"status": "error"})] * 3),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers[json.loads(request.content)["id"]])

    respx.post(f"{BASE}{WEBHOOK_PATH}").mock(side_effect=answer)
    log = deliver_many(batch, concurrency=1, retries=2)
    assert (log.count("Completed"), log.count("Failed")) == (1, 1)
    assert log.attempts == 5 and log.failed_attempts == 4
    assert log.error_rate == 4 / 5
    assert log.answers() == {"queued": 1, "error": 1}
    lines = [json.loads(line) for line in log.jsonl().splitlines()]
    assert [line["status"] for line in lines] == ["Completed", "Failed"]
    assert lines[1]["http_status"] == 422 and lines[1]["attempts"] == 3


@respx.mock
def test_retries_back_off_exponentially(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("simulator.sender.asyncio.sleep", record)
    respx.post(f"{BASE}{WEBHOOK_PATH}").mock(return_value=httpx.Response(500))

    async def go() -> object:
        async with httpx.AsyncClient(base_url=BASE) as client:
            return await Sender(client, "secret", retries=4, backoff=0.5).deliver(a_delivery())

    asyncio.run(go())
    assert waits == [0.5, 1.0, 2.0, 4.0]
