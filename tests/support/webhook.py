"""Signed deliveries, as TimeMoto sends them, posted with any httpx client: the in-process
TestClient or an `httpx.Client` on a real process (both speak httpx)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from service.domain.signature import sign
from tests.support.samples import sample_delivery

# Made once and given to every client that posts one delivery: httpx otherwise builds a TLS
# context for each client it makes, reading the whole CA bundle (35 ms of CPU), and a test that
# posts each delivery on a new connection spent most of its time there.
TLS = httpx.create_ssl_context()

SECRET = "test-secret-do-not-use"
OLD_SECRET = "old-secret"  # the service accepts both: a rotation in progress
SECRETS = (OLD_SECRET, SECRET)

WEBHOOK = "/api/webhooks/timemoto/pointage"
VERIFIER = "/api/database/verifier-tables-pointage"

SIGN = "sign"  # post()'s default: a right signature with `secret`


def a_delivery(**changes: Any) -> dict[str, Any]:
    """TimeMoto's sample with a fresh delivery id, and the top-level changes given."""
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document.update(changes)
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def post(
    client: httpx.Client,
    delivery: dict[str, Any] | bytes,
    *,
    signature: str | None = SIGN,
    secret: str = SECRET,
) -> httpx.Response:
    """POST a delivery (a document, or the raw bytes as sent) to the webhook. `signature`: the
    default signs the bytes with `secret`; None sends no header; any other text is sent as is."""
    body = delivery if isinstance(delivery, bytes) else encode(delivery)
    headers = {"Content-Type": "application/json"}
    if signature == SIGN:
        signature = sign(body, secret)
    if signature is not None:
        headers["Timemoto-Signature"] = signature
    return client.post(WEBHOOK, content=body, headers=headers)


def verifier(client: httpx.Client) -> httpx.Response:
    return client.get(VERIFIER)
