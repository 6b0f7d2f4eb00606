"""The one routine behind the webhook (docs/contract.md §1): verify, parse once, store, else spool.

HTTP stays outside (service/http/webhook.py): this module takes the raw body and the signature
header and returns the answer, which carries what the delivery said of itself for the log line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import msgspec

from service.db.errors import DatabaseUnavailable, DeliveryRefused
from service.db.store import DeliveryStore
from service.domain import signature
from service.domain.delivery import (
    Delivery,
    Described,
    InvalidDelivery,
    NotJson,
    decode,
    describe,
    holds_no_nul,
    parse_delivery,
)
from service.outbox.spool import Spool, SpoolError
from service.recovery.recovery import Recovery

log = logging.getLogger(__name__)

AnswerStatus = Literal["stored", "duplicate", "ignored", "applied", "queued", "error"]


class WebhookAnswer(msgspec.Struct, omit_defaults=True):
    status: AnswerStatus
    event_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    http_status: int
    body: WebhookAnswer
    described: Described = field(default_factory=Described)  # for the log line; empty if unsigned


def error(
    http_status: int, reason: str, event_id: str | None = None, described: Described | None = None
) -> Answer:
    body = WebhookAnswer("error", event_id=event_id, reason=reason)
    return Answer(http_status, body, described or Described())


class Intake:
    def __init__(
        self,
        secrets: tuple[str, ...],
        store: DeliveryStore,
        spool: Spool,
        recovery: Recovery,
        *,
        patience: float,
    ) -> None:
        self._secrets = secrets
        self._patience = patience
        self._store = store
        self._spool = spool
        self._recovery = recovery

    async def receive(self, body: bytes, signature_header: str | None) -> Answer:
        received_at = datetime.now(UTC)
        if not signature.verify(body, signature_header, self._secrets):
            # A forged body could say anything: nothing of it is read, not even its id.
            reason = "signature missing" if not signature_header else "signature does not match"
            return error(401, f"{reason}: check {signature.HEADER} and the shared secret")
        try:
            document = decode(body)
        except NotJson as exc:
            return error(400, str(exc))
        described = describe(document)
        try:
            delivery = parse_delivery(document, nul_free=holds_no_nul(body))
        except InvalidDelivery as exc:
            return await self._refuse(body, f"{exc}", described, received_at)
        except Exception as exc:
            log.exception("delivery %s could not be checked", described.event_id)
            return await self._refuse(body, type(exc).__name__, described, received_at)
        answer = await self._record(body, delivery, received_at)
        return Answer(answer.http_status, answer.body, described)

    async def _refuse(
        self, body: bytes, why: str, described: Described, received_at: datetime
    ) -> Answer:
        """422, the body kept in quarantine for re-processing once the cause is understood."""
        reason = f"not a valid TimeMoto delivery: {why}"
        await self._quarantine(described.event_id, body, reason, received_at)
        return error(422, reason, described.event_id, described)

    async def _record(self, body: bytes, delivery: Delivery, received_at: datetime) -> Answer:
        """The database, else the spool (202 queued), else 503."""
        event_id = delivery.event_id
        try:
            if self._spool.may_hold(event_id) and await asyncio.to_thread(
                self._spool.contains, event_id
            ):
                return Answer(200, WebhookAnswer("duplicate", event_id=event_id))
        except SpoolError as exc:
            log.error("%s", exc)
        if self._recovery.takes_writes:
            try:
                recorded = await self._store.record(delivery, received_at, patience=self._patience)
            except DatabaseUnavailable as exc:
                self._recovery.write_failed(exc.problem)
            except DeliveryRefused as exc:
                # Decided before the ack: the database will never take this one as it is.
                reason = f"refused by the database: {exc.problem}"
                await self._quarantine(event_id, body, reason, received_at)
                return error(422, reason, event_id)
            else:
                return Answer(200, WebhookAnswer(recorded, event_id=event_id))
        try:
            added = await asyncio.to_thread(self._spool.put, event_id, body, received_at)
        except SpoolError as exc:
            log.error(
                "delivery %s refused with 503, neither database nor spool took it: %s",
                event_id,
                exc,
            )
            return error(503, "neither the database nor the spool can take it now", event_id)
        self._recovery.spooled()
        return Answer(
            202 if added else 200,
            WebhookAnswer("queued" if added else "duplicate", event_id=event_id),
        )

    async def _quarantine(
        self, event_id: str | None, body: bytes, reason: str, received_at: datetime
    ) -> None:
        try:
            await asyncio.to_thread(self._spool.quarantine, event_id, body, reason, received_at)
        except SpoolError as exc:
            log.error("invalid delivery %s not kept in quarantine: %s", event_id, exc)
