"""TimeMoto's delivery sample, kept in the repository so the suite needs nothing beside it.

It is a copy of ../shared/samples/attendance.inserted.json (the OpenAPI document shows it too);
test_samples.py checks that the two still agree wherever the shared folder is present.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from service.domain.delivery import Punch, parse_delivery
from service.http.openapi import SAMPLE_PATH

SHARED_SAMPLE_PATH = (
    Path(__file__).resolve().parents[3] / "shared" / "samples" / "attendance.inserted.json"
)


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
