"""The verifier endpoint, on a real database (`python -m service db verify` is in
system/test_cli.py)."""

from __future__ import annotations

import httpx

from service.db.schema import EXPECTED_OBJECTS, schema_sql
from tests.support.databases import Database
from tests.support.webhook import verifier


def test_everything_in_place_is_ok(client: httpx.Client, database_url: str) -> None:
    response = verifier(client)
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is True
    assert answer["database"]["reachable"] is True
    assert answer["database"]["error"] is None
    assert answer["database"]["latency_ms"] >= 0
    assert [(o["name"], o["kind"]) for o in answer["objects"]] == list(EXPECTED_OBJECTS)
    assert all(o["exists"] for o in answer["objects"])
    assert answer["missing"] == []
    assert answer["spool"] == {
        "pending": 0,
        "stranded": 0,
        "quarantined": 0,
        "oldest_pending_s": None,
    }
    assert "postgresql://" not in response.text  # never a connection string


def test_a_dropped_object_is_named_missing_and_answers_503(
    client: httpx.Client, database: Database
) -> None:
    database.execute("DROP VIEW v_pointage_detail")
    try:
        response = verifier(client)
        assert response.status_code == 503
        assert response.json()["ok"] is False
        assert response.json()["missing"] == ["v_pointage_detail"]
        assert response.json()["database"]["reachable"] is True
    finally:
        database.execute(schema_sql())
