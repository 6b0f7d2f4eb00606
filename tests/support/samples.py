"""TimeMoto's delivery sample (service/samples/attendance.inserted.json: a real delivery's shape,
invented values; the OpenAPI document shows it too), and deliveries and punches made from it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from service.domain.delivery import Punch, parse_delivery
from service.http.openapi import SAMPLE_PATH


def sample_delivery() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE_PATH.read_text())
    return document


def a_document(user: str, minute: int = 0) -> dict[str, Any]:
    """The sample with a fresh delivery id, for `user`, clocked at 08:`minute` on 2 November."""
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document["data"]["userId"] = user
    document["data"]["timeLogged"] = f"2026-11-02T08:{minute:02d}:00"
    return document


def a_punch(user: str, minute: int = 0) -> Punch:
    punch = parse_delivery(a_document(user, minute)).punch
    assert punch is not None
    return punch
