"""The OpenAPI document (`/schema`, `/schema/openapi.json`): what each endpoint takes and answers.

Examples are data only; the handlers attach them (webhook.py, verifier.py). No handler is imported
here, so that every module may import this one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Example,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

from service.domain.signature import HEADER
from service.intake import WebhookAnswer
from service.operations.verification import EXPECTED_OBJECTS

DESCRIPTION = """\
TimeMoto calls the webhook for every clocking; the service checks the `Timemoto-Signature`
(hex HMAC-SHA256 of the raw body with the shared secret), stores the punch in PostgreSQL
(`pointage`) and the database keeps the monthly worked time. An acknowledged delivery (200 or 202)
is never lost. The verifier says whether the database and every schema object are in place.
"""

# A delivery in TimeMoto's exact shape (the contract's sample; values invented).
SAMPLE_PATH = Path(__file__).resolve().parents[1] / "samples" / "attendance.inserted.json"
ATTENDANCE_INSERTED: dict[str, Any] = json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))

_EVENT_ID = ATTENDANCE_INSERTED["id"]

# docs/contract.md §1: every answer of the webhook, by HTTP status: (description, {example: body}).
WEBHOOK_ANSWERS: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    200: (
        "Acknowledged: stored, a duplicate of an earlier delivery, a correction applied to the "
        "one punch it names, or another event kept aside.",
        {
            "stored": {"status": "stored", "event_id": _EVENT_ID},
            "duplicate": {"status": "duplicate", "event_id": _EVENT_ID},
            "ignored": {"status": "ignored", "event_id": _EVENT_ID},
            "applied": {"status": "applied", "event_id": _EVENT_ID},
        },
    ),
    202: (
        "Acknowledged: the database is unavailable; the delivery is spooled and written later.",
        {"queued": {"status": "queued", "event_id": _EVENT_ID}},
    ),
    400: (
        "The body is not JSON, or nests deeper than 64 levels.",
        {
            "not json": {"status": "error", "reason": "body is not valid JSON: ..."},
            "too deep": {"status": "error", "reason": "JSON nested deeper than 64 levels"},
        },
    ),
    401: (
        "The signature is missing or does not match.",
        {
            "signature": {
                "status": "error",
                "reason": "signature does not match: check Timemoto-Signature and the shared "
                "secret",
            }
        },
    ),
    413: (
        "The body is over 256 KiB.",
        {"too large": {"status": "error", "reason": "body over 256 KiB"}},
    ),
    422: (
        "Signed, but not a valid TimeMoto delivery; the reason says why.",
        {
            "invalid": {
                "status": "error",
                "event_id": _EVENT_ID,
                "reason": "not a valid TimeMoto delivery: `data.timeZone` 'Mars/Olympus' is not "
                "an IANA time zone",
            }
        },
    ),
    503: (
        "Neither the database nor the spool can take the delivery; TimeMoto will retry.",
        {"unavailable": {"status": "error", "event_id": _EVENT_ID, "reason": "..."}},
    ),
}


def _objects(missing: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"name": n, "kind": k, "exists": n not in missing} for n, k in EXPECTED_OBJECTS]


VERIFIER_ANSWERS: dict[int, tuple[str, dict[str, dict[str, Any]]]] = {
    200: (
        "The database answers, every object of the schema is in place, nothing is stranded.",
        {
            "ok": {
                "ok": True,
                "database": {"reachable": True, "latency_ms": 1.7, "error": None},
                "objects": _objects(),
                "missing": [],
                "spool": {
                    "pending": 0,
                    "stranded": 0,
                    "quarantined": 0,
                    "oldest_pending_s": None,
                },
            }
        },
    ),
    503: (
        "The database does not answer (each object's `exists` is then null: unknown), objects "
        "are missing (named in `missing`), or deliveries are stranded for another database.",
        {
            "unreachable": {
                "ok": False,
                "database": {
                    "reachable": False,
                    "latency_ms": None,
                    "error": "connection refused: is PostgreSQL running and reachable from "
                    "this host?",
                },
                "objects": [{"name": n, "kind": k, "exists": None} for n, k in EXPECTED_OBJECTS],
                "missing": [],
                "spool": {
                    "pending": 3,
                    "stranded": 0,
                    "quarantined": 0,
                    "oldest_pending_s": 42.5,
                },
            },
            "stranded": {
                "ok": False,
                "database": {"reachable": True, "latency_ms": 1.9, "error": None},
                "objects": _objects(),
                "missing": [],
                "spool": {
                    "pending": 0,
                    "stranded": 12,
                    "quarantined": 0,
                    "oldest_pending_s": None,
                },
            },
        },
    ),
}


def responses(
    container: type, answers: dict[int, tuple[str, dict[str, dict[str, Any]]]]
) -> dict[int, ResponseSpec]:
    """`responses=` for a route handler: one documented answer per status, with its examples."""
    return {
        status: ResponseSpec(
            data_container=container,
            description=description,
            generate_examples=False,
            examples=[
                Example(id=name, summary=name, value=body) for name, body in examples.items()
            ],
        )
        for status, (description, examples) in answers.items()
    }


def webhook_responses() -> dict[int, ResponseSpec]:
    return responses(WebhookAnswer, WEBHOOK_ANSWERS)


def _field(kind: OpenAPIType, description: str) -> Schema:
    return Schema(type=[kind, OpenAPIType.NULL], description=description)


def _name(description: str, max_length: int = 200) -> Schema:
    return Schema(
        type=OpenAPIType.STRING, min_length=1, max_length=max_length, description=description
    )


# What a delivery holds (docs/contract.md §1); any other field is accepted and kept.
DELIVERY_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["id", "event"],
    additional_properties=True,
    properties={
        "id": _name("Unique per delivery (`tm_…`): the idempotency key."),
        "event": Schema(
            type=OpenAPIType.STRING,
            min_length=1,
            description="`attendance.inserted`, `attendance.updated`, `attendance.deleted`, "
            "`user.*`, …",
        ),
        "sequence": _field(OpenAPIType.INTEGER, "TimeMoto's sequence number."),
        "dispatchedAt": _field(OpenAPIType.NUMBER, "Unix seconds."),
        "data": Schema(
            type=[OpenAPIType.OBJECT, OpenAPIType.NULL],
            additional_properties=True,
            description="The record; for attendance events, the clocking.",
            properties={
                "userId": _name("The TimeMoto user."),
                "timeZone": _name("IANA zone of the local times, e.g. `Africa/Tunis`.", 64),
                "timeLogged": _field(
                    OpenAPIType.STRING, "Local wall-clock time, no offset; years 1900 to 2200."
                ),
                "timeLoggedRounded": _field(OpenAPIType.STRING, "As `timeLogged`, rounded."),
                "timeInserted": _field(OpenAPIType.STRING, "UTC, with `Z` and 7 decimals."),
                "clockingActionTypeId": _field(
                    OpenAPIType.INTEGER, "0 In, 1 Out, 2 break start, 3 break end."
                ),
                "clockingType": _field(OpenAPIType.STRING, "The same in words: `In`, `Out`, …"),
                "recordIgnored": _field(OpenAPIType.BOOLEAN, "TimeMoto discarded the clocking."),
                "recordHash": _field(OpenAPIType.INTEGER, "Signed 64-bit: may exceed 2^53."),
            },
        ),
    },
)


@dataclass
class WebhookOperation(Operation):
    """The webhook reads its raw body itself (the signature covers the bytes), so Litestar sees no
    `data` parameter: describe the body and the signature header here."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            description="A TimeMoto delivery, as TimeMoto sends it (unknown fields are kept).",
            required=True,
            content={
                "application/json": OpenAPIMediaType(
                    schema=DELIVERY_SCHEMA,
                    examples={"attendance.inserted": Example(value=ATTENDANCE_INSERTED)},
                )
            },
        )
        self.parameters = [
            Parameter(
                name=HEADER,
                param_in="header",
                required=True,
                schema=Schema(type=OpenAPIType.STRING),
                description="Hex HMAC-SHA256 of the raw body with the shared secret "
                "(`sha256=` prefix optional).",
            ),
            *(self.parameters or []),
        ]


def _version() -> str:
    try:
        return version("timemoto-pointage")
    except PackageNotFoundError:
        return "0+unknown"


# Swagger UI's files, served from the package swagger-ui-py ships (no CDN: `/schema` works on a
# machine without internet). service/http/docs_assets.py serves them under this path.
DOCS_ASSETS = "/schema/assets"


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="TimeMoto pointage",
        version=_version(),
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[swagger_plugin()],
        use_handler_docstrings=True,
    )
