"""`POST /api/webhooks/timemoto/pointage`: HTTP around `Reception`; one log line per delivery."""

from __future__ import annotations

import logging
import time
from typing import NamedTuple

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from service.domain.delivery import ATTENDANCE_INSERTED, type_pointage
from service.domain.signature import HEADER
from service.http.metrics import Metrics
from service.http.openapi import WebhookOperation, webhook_responses
from service.intake import Answer, WebhookAnswer, error
from service.logs import fields
from service.settings import MAX_BODY_BYTES

PATH = "/api/webhooks/timemoto/pointage"

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request[object, object, State], limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` bytes (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@post(
    PATH,
    request_max_body_size=None,
    status_code=200,
    operation_class=WebhookOperation,
    responses=webhook_responses(),
)
async def receive_pointage(
    request: Request[object, object, State], state: State
) -> Response[WebhookAnswer]:
    """Receive one TimeMoto delivery (CONTRACT §1)."""
    started = time.perf_counter()
    body = b""
    try:
        body = await read_body(request, MAX_BODY_BYTES)
        answer = await state.runtime.reception.receive(body, request.headers.get(HEADER))
    except BodyTooLarge:
        answer = error(413, f"body over {MAX_BODY_BYTES // 1024} KiB")
    except Exception:
        report_delivery(state.metrics, body, None, time.perf_counter() - started)
        raise  # the app's handler answers 500 and logs the traceback
    report_delivery(state.metrics, body, answer, time.perf_counter() - started)
    return Response(answer.body, status_code=answer.http_status)


# What the delivery line says of the body; msgspec reads only these fields and skips the rest.
class _Data(msgspec.Struct, rename="camel"):
    user_id: str | None = None
    clocking_action_type_id: int | None = None
    clocking_type: str | None = None


class _Envelope(msgspec.Struct):
    id: str | None = None
    event: str | None = None
    data: _Data | None = None


class Described(NamedTuple):
    event_id: str | None = None
    event: str | None = None
    user: str | None = None
    type: str | None = None  # type_pointage, for attendance.inserted


def describe(body: bytes) -> Described:
    """What a body says of itself, each part None where it cannot be read."""
    try:
        envelope = msgspec.json.decode(body, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Described()
    data = envelope.data or _Data()
    punch_type = None
    if envelope.event == ATTENDANCE_INSERTED:
        punch_type = type_pointage(data.clocking_action_type_id, data.clocking_type)
    return Described(envelope.id, envelope.event, data.user_id, punch_type)


def report_delivery(metrics: Metrics, body: bytes, answer: Answer | None, seconds: float) -> None:
    """The delivery's log line and metrics; `answer` None means it failed with a 500."""
    http_status = answer.http_status if answer else 500
    status = answer.body.status if answer else "error"
    # Only an authenticated body's content is worth a log line: a forged one could say anything.
    described = describe(body) if http_status != 401 else Described()
    metrics.observe_delivery(status, http_status, seconds)
    log.log(
        logging.INFO if http_status < 500 else logging.WARNING,
        "webhook delivery",
        extra=fields(
            event_id=answer.body.event_id if answer else described.event_id,
            event=described.event,
            user=described.user,
            type=described.type,
            answer=status,
            http_status=http_status,
            duration_ms=round(seconds * 1000, 1),
        ),
    )
