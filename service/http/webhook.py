"""`POST /api/webhooks/timemoto/pointage`: HTTP around the intake; one log line per delivery."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException

from service.alerts.monitor import AlertMonitor
from service.domain.signature import HEADER
from service.http import paths
from service.http.metrics import Metrics
from service.http.openapi import WebhookOperation, webhook_responses
from service.intake import Answer, Intake, WebhookAnswer, error
from service.logs import fields
from service.settings import MAX_BODY_BYTES

# The name operators grep for (README "Operations"): kept when the module moved.
log = logging.getLogger("service.webhook")


@dataclass(frozen=True, slots=True)
class Reception:
    """What the webhook's handler needs, as one dependency: Litestar resolves two or more in
    an anyio task group, which cost 9% of the service's CPU per delivery (bench webhook)."""

    intake: Intake
    metrics: Metrics
    monitor: AlertMonitor  # counts the answers (docs/contract.md §6: today's, signature failures)


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    """The sender hung up before its body was read: nobody to answer, nothing was received."""


# Neither a status of docs/contract.md §1 nor an HTTP answer anybody reads: the log and metrics only
# (499 is nginx's word for it). Not counted as a server error: anyone can hang up.
CLIENT_DISCONNECTED = "client_disconnected"
CLIENT_CLOSED_REQUEST = 499


async def read_body(request: Request[object, object, State], limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` bytes (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    except InternalServerException as exc:  # Litestar's word for "http.disconnect" mid-body
        raise ClientDisconnected from exc
    return b"".join(chunks)


@post(
    paths.WEBHOOK,
    request_max_body_size=None,
    status_code=200,
    operation_class=WebhookOperation,
    responses=webhook_responses(),
)
async def receive_pointage(
    request: Request[object, object, State], reception: NamedDependency[Reception]
) -> Response[WebhookAnswer]:
    """Receive one TimeMoto delivery (docs/contract.md §1)."""
    started = time.perf_counter()
    intake, metrics = reception.intake, reception.metrics
    try:
        with metrics.in_flight.track_inprogress():
            body = await read_body(request, MAX_BODY_BYTES)
            answer = await intake.receive(body, request.headers.get(HEADER))
    except BodyTooLarge:
        answer = error(413, f"body over {MAX_BODY_BYTES // 1024} KiB")
    except ClientDisconnected:
        report_delivery(reception, None, time.perf_counter() - started, disconnected=True)
        return Response(WebhookAnswer("error"), status_code=CLIENT_CLOSED_REQUEST)
    except Exception:
        report_delivery(reception, None, time.perf_counter() - started)
        raise  # the app's handler answers 500 and logs the traceback
    report_delivery(reception, answer, time.perf_counter() - started)
    return Response(answer.body, status_code=answer.http_status)


def report_delivery(
    reception: Reception, answer: Answer | None, seconds: float, *, disconnected: bool = False
) -> None:
    """The delivery's log line and metrics; `answer` None means it failed with a 500, or the
    sender hung up."""
    if disconnected:
        http_status, status = CLIENT_CLOSED_REQUEST, CLIENT_DISCONNECTED
    else:
        http_status = answer.http_status if answer else 500
        status = answer.body.status if answer else "error"
    described = answer.described if answer else None
    reception.metrics.observe_delivery(status, http_status, seconds)
    reception.monitor.record(status, http_status)
    log.log(
        logging.INFO if http_status < 500 else logging.WARNING,
        "webhook delivery",
        extra=fields(
            event_id=answer.body.event_id if answer else None,
            event=described.event if described else None,
            user=described.user if described else None,
            type=described.type if described else None,
            answer=status,
            http_status=http_status,
            duration_ms=round(seconds * 1000, 1),
        ),
    )
