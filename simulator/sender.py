"""Signs and posts deliveries the way TimeMoto does, retrying failures with backoff."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from service.signature import HEADER, sign

WEBHOOK_PATH = "/api/webhooks/timemoto/pointage"


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


def encode(delivery: dict[str, Any]) -> bytes:
    return json.dumps(delivery, separators=(",", ":")).encode()


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
        """Post one delivery; retry 5xx, 429 and transport errors, never a 4xx refusal."""
        body = encode(delivery)
        headers = {"Content-Type": "application/json", HEADER: sign(body, self._secret)}
        result = DeliveryResult(event_id=str(delivery.get("id")), status_code=None, attempts=0)
        for attempt in range(self._retries + 1):
            result.attempts = attempt + 1
            try:
                response = await self._client.post(WEBHOOK_PATH, content=body, headers=headers)
            except httpx.TransportError as exc:
                result.status_code, result.error = None, f"{type(exc).__name__}: {exc}"
            else:
                result.status_code, result.error = response.status_code, None
                result.answer = _json(response)
                if response.status_code < 500 and response.status_code != 429:
                    return result
            if attempt < self._retries:
                await asyncio.sleep(self._backoff * 2**attempt)
        return result


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
