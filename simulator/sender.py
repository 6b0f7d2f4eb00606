"""Signs and posts deliveries the way TimeMoto does, retrying failures with backoff.

TimeMoto's delivery log marks each delivery "Completed" (a 2xx answer) or "Failed", and the
webhook's error rate counts failed attempts: `DeliveryLog` keeps the same books.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from service.domain.signature import HEADER, sign
from service.http import paths

MAX_BACKOFF = 30.0


@dataclass(slots=True)
class DeliveryResult:
    """What TimeMoto's delivery log would show: "Completed" for a 2xx, else "Failed"."""

    event_id: str
    status_code: int | None  # None: no HTTP answer at all
    answer: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def log_status(self) -> str:
        return "Completed" if self.completed else "Failed"

    @property
    def failed_attempts(self) -> int:
        return self.attempts - (1 if self.completed else 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "status": self.log_status,
            "http_status": self.status_code,
            "attempts": self.attempts,
            "answer": self.answer,
            "error": self.error,
        }


def encode(delivery: dict[str, Any]) -> bytes:
    return json.dumps(delivery, separators=(",", ":"), ensure_ascii=False).encode()


class Sender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        secret: str,
        *,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._client = client
        self._secret = secret
        self._retries = retries
        self._backoff = backoff

    async def deliver(self, delivery: dict[str, Any]) -> DeliveryResult:
        """Post one delivery; like TimeMoto, retry any non-2xx answer and any transport error
        (timeouts included), waiting `backoff * 2**attempt` seconds between attempts."""
        body = encode(delivery)
        headers = {"Content-Type": "application/json", HEADER: sign(body, self._secret)}
        result = DeliveryResult(event_id=str(delivery.get("id")), status_code=None, attempts=0)
        for attempt in range(self._retries + 1):
            result.attempts = attempt + 1
            try:
                response = await self._client.post(paths.WEBHOOK, content=body, headers=headers)
            except httpx.TransportError as exc:
                result.status_code, result.error = None, f"{type(exc).__name__}: {exc}"
            else:
                result.status_code, result.error = response.status_code, None
                result.answer = _json(response)
                if result.completed:
                    return result
            if attempt < self._retries:
                await asyncio.sleep(min(self._backoff * 2**attempt, MAX_BACKOFF))
        return result


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


@dataclass(slots=True)
class DeliveryLog:
    """Every delivery's final line, in the order they finished."""

    results: list[DeliveryResult] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def attempts(self) -> int:
        return sum(result.attempts for result in self.results)

    @property
    def failed_attempts(self) -> int:
        return sum(result.failed_attempts for result in self.results)

    @property
    def error_rate(self) -> float:
        """Failed attempts over all attempts, as TimeMoto shows a webhook's error rate."""
        return self.failed_attempts / self.attempts if self.attempts else 0.0

    def count(self, log_status: str) -> int:
        return sum(result.log_status == log_status for result in self.results)

    def answers(self) -> Counter[str]:
        """Final answers by the service's `status` (stored, duplicate, queued, …)."""
        return Counter(
            str(result.answer.get("status") or result.status_code or "no answer")
            for result in self.results
        )

    def jsonl(self) -> str:
        return "".join(json.dumps(result.to_json()) + "\n" for result in self.results)


class Pace:
    """At most `rate` starts a second across every worker (None: as fast as they go)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1 / rate if rate else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        await asyncio.sleep(slot - now)


def ordered(
    deliveries: Iterable[dict[str, Any]], shuffle: bool, seed: int | None
) -> list[dict[str, Any]]:
    chosen = list(deliveries)
    if shuffle:
        random.Random(seed).shuffle(chosen)
    return chosen


async def deliver_all(
    client: httpx.AsyncClient,
    secret: str,
    deliveries: Iterable[dict[str, Any]],
    *,
    concurrency: int = 8,
    rate: float | None = None,
    retries: int = 5,
    backoff: float = 0.5,
    on_result: Callable[[DeliveryResult], None] | None = None,
) -> DeliveryLog:
    """Deliver with `concurrency` workers taking deliveries in the order given (so, with one
    worker, strictly in order), paced to `rate` a second; returns the delivery log."""
    sender = Sender(client, secret, retries=retries, backoff=backoff)
    queue = iter(list(deliveries))
    pace = Pace(rate)
    log = DeliveryLog()

    async def worker() -> None:
        for delivery in queue:  # one shared iterator: each delivery goes to one worker
            await pace.wait()
            result = await sender.deliver(delivery)
            log.results.append(result)
            if on_result is not None:
                on_result(result)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    log.finished = time.monotonic()
    return log
