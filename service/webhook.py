"""`POST /api/webhooks/timemoto/pointage`: HTTP around `Reception`."""

from __future__ import annotations

from litestar import Request, Response, post
from litestar.datastructures import State

from service.reception import Answer, WebhookAnswer, error
from service.settings import MAX_BODY_BYTES
from service.signature import HEADER

PATH = "/api/webhooks/timemoto/pointage"


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


@post(PATH, request_max_body_size=None, status_code=200)
async def receive_pointage(
    request: Request[object, object, State], state: State
) -> Response[WebhookAnswer]:
    try:
        body = await read_body(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        answer: Answer = error(413, f"body over {MAX_BODY_BYTES // 1024} KiB")
    else:
        answer = await state.runtime.reception.receive(body, request.headers.get(HEADER))
    return Response(answer.body, status_code=answer.http_status)
