"""The reference servers of bench/bench_webhook.py, each run by uvicorn as the service is.

`trivial`: a bare ASGI app that reads the body and answers 200 at once, the load generator's own
ceiling. `create_bare`: a Litestar app whose one POST reads the raw body and checks its HMAC, the
HTTP limit. Both answer on the webhook's path, so the same wrk script drives them all. The secret
comes from BENCH_SECRET.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.datastructures import State

from service.domain.signature import HEADER, sign
from service.http import paths

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TRIVIAL_BODY = b'{"status":"ok"}'
_TRIVIAL_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"15")]


async def trivial(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _TRIVIAL_HEADERS})
    await send({"type": "http.response.body", "body": _TRIVIAL_BODY})


def create_bare() -> Litestar:
    secret = os.environ["BENCH_SECRET"]

    @post(paths.WEBHOOK, status_code=200)
    async def bare(request: Request[object, object, State]) -> Response[dict[str, str]]:
        body = await request.body()
        given = request.headers.get(HEADER, "").encode()
        if hmac.compare_digest(sign(body, secret).encode(), given):
            return Response({"status": "ok"}, status_code=200)
        return Response({"status": "error"}, status_code=401)

    return Litestar(route_handlers=[bare], logging_config=None)
