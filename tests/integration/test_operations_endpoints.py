"""What an operator curls: /health, /ready, /metrics, and the OpenAPI document at /schema
(uvicorn's access lines for them are in system/test_logs.py)."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.db.schema import schema_sql
from tests.support.databases import Database
from tests.support.samples import sample_delivery
from tests.support.webhook import VERIFIER, WEBHOOK, a_delivery, encode, post


def samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_health_says_the_process_is_up(client: httpx.Client) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_is_200_with_the_schema_and_503_without(
    client: httpx.Client, database: Database
) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database_reachable": True, "missing": [], "error": None}
    database.execute("DROP VIEW v_pointage_detail")
    try:
        not_ready = client.get("/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["ready"] is False
        assert not_ready.json()["missing"] == ["v_pointage_detail"]
    finally:
        database.execute(schema_sql())
    assert client.get("/ready").status_code == 200


def test_metrics_count_deliveries_by_answer_and_time_them(client: httpx.Client) -> None:
    stored = ("timemoto_deliveries_total", (("answer", "stored"), ("http_status", "200")))
    refused = ("timemoto_deliveries_total", (("answer", "error"), ("http_status", "401")))
    durations = ("timemoto_delivery_duration_seconds_count", ())
    before = samples(client)
    body = encode(a_delivery())
    assert post(client, body).status_code == 200
    assert post(client, body).json()["status"] == "duplicate"
    assert post(client, body, signature="0" * 64).status_code == 401
    after = samples(client)
    assert after[stored] - before.get(stored, 0) == 1
    assert after[refused] - before.get(refused, 0) == 1
    assert after[durations] - before.get(durations, 0) == 3
    assert after[("timemoto_database_up", ())] == 1
    assert after[("timemoto_spool_pending", ())] == 0


def test_the_openapi_document_lists_both_endpoints_with_examples(client: httpx.Client) -> None:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "TimeMoto pointage"
    assert document["info"]["version"]
    assert "HMAC-SHA256" in document["info"]["description"]
    assert {WEBHOOK, VERIFIER, "/health", "/ready", "/metrics"} <= set(document["paths"])

    webhook = document["paths"][WEBHOOK]["post"]
    assert "TimeMoto delivery" in webhook["description"]  # the handler's docstring
    body = webhook["requestBody"]["content"]["application/json"]["examples"]
    sample = sample_delivery()
    assert _without_nulls(body["attendance.inserted"]["value"]) == _without_nulls(sample)
    assert "Timemoto-Signature" in [p["name"] for p in webhook["parameters"]]
    answers = _examples(webhook["responses"])
    assert set(answers) == {"200", "202", "400", "401", "413", "422", "503"}
    assert [e["status"] for e in answers["200"]] == ["stored", "duplicate", "ignored", "applied"]
    assert [e["status"] for e in answers["202"]] == ["queued"]
    refusals = [e for code in ("400", "401", "413", "422", "503") for e in answers[code]]
    assert refusals
    assert all(e["status"] == "error" for e in refusals)

    verifier = _examples(document["paths"][VERIFIER]["get"]["responses"])
    assert [e["ok"] for e in verifier["200"]] == [True]
    assert [e["ok"] for e in verifier["503"]] == [False, False]
    assert verifier["200"][0]["spool"]["pending"] == 0

    assert client.get("/schema").status_code == 200


def _examples(responses: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        code: [e["value"] for e in answer["content"]["application/json"]["examples"].values()]
        for code, answer in responses.items()
        if "examples" in answer.get("content", {}).get("application/json", {})
    }


def _without_nulls(value: Any) -> Any:
    """Litestar leaves null members out of examples; everything else must be the sample's."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value
