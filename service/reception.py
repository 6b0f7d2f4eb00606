"""What the webhook answers to a delivery (CONTRACT §1), apart from HTTP itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec

from service import signature
from service.deliveries import DeliveryStore
from service.payload import InvalidDelivery, NotJson, decode, parse_delivery, peek_event_id

log = logging.getLogger(__name__)

AnswerStatus = Literal["stored", "duplicate", "ignored", "queued", "error"]


class WebhookAnswer(msgspec.Struct, omit_defaults=True):
    status: AnswerStatus
    event_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    http_status: int
    body: WebhookAnswer


def error(http_status: int, reason: str, event_id: str | None = None) -> Answer:
    return Answer(http_status, WebhookAnswer("error", event_id=event_id, reason=reason))


class Reception:
    def __init__(self, secrets: tuple[str, ...], store: DeliveryStore) -> None:
        self._secrets = secrets
        self._store = store

    async def receive(self, body: bytes, signature_header: str | None) -> Answer:
        received_at = datetime.now(UTC)
        if not signature.verify(body, signature_header, self._secrets):
            event_id = _try_event_id(body)
            reason = "signature missing" if not signature_header else "signature does not match"
            return error(401, f"{reason}: check {signature.HEADER} and the shared secret", event_id)
        try:
            document = decode(body)
        except NotJson as exc:
            return error(400, str(exc))
        event_id = peek_event_id(document)
        try:
            delivery = parse_delivery(document)
        except InvalidDelivery as exc:
            return error(422, f"not a valid TimeMoto delivery: {exc}", event_id)
        recorded = await self._store.record(delivery, received_at)
        return Answer(200, WebhookAnswer(recorded, event_id=delivery.event_id))


def _try_event_id(body: bytes) -> str | None:
    try:
        return peek_event_id(decode(body))
    except NotJson:
        return None
