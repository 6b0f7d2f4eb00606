"""TimeMoto's delivery sample, kept in the repository so the suite needs nothing beside it.

It is a copy of ../shared/samples/attendance.inserted.json (the OpenAPI document shows it too);
test_samples.py checks that the two still agree wherever the shared folder is present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.http.openapi import SAMPLE_PATH

SHARED_SAMPLE_PATH = (
    Path(__file__).resolve().parents[3] / "shared" / "samples" / "attendance.inserted.json"
)


def sample_delivery() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE_PATH.read_text())
    return document
