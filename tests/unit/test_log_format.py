"""The log's formats and its redaction, without a service: JSON and text lines carry the
structured fields, and nothing secret survives (the service's own log is in system/test_logs.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from service.domain.signature import sign
from service.logs import JsonFormatter, Redactor, TextFormatter, fields, secrets_of

DB_PASSWORD = "db-pw-Zq81-never-logged"


def _record(message: str, **values: Any) -> logging.LogRecord:
    record = logging.LogRecord("service.http.webhook", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(fields(**values))
    return record


def test_the_redactor_removes_secrets_urls_passwords_and_signatures() -> None:
    redact = Redactor(secrets_of(["s3cret-one", "x"], f"postgresql://erp:{DB_PASSWORD}@db/erp"))
    signature = sign(b"{}", "s3cret-one")
    text = (
        f"secret s3cret-one url postgresql+asyncpg://erp:{DB_PASSWORD}@db:5432/erp "
        f"password {DB_PASSWORD} amqp://u:hunter22@mq/ sig {signature} sha256={signature.upper()}"
    )
    redacted = redact(text)
    for secret in ("s3cret-one", DB_PASSWORD, "postgresql", "hunter22", signature, "sha256="):
        assert secret.lower() not in redacted.lower()
    assert "[database url]" in redacted
    assert "amqp://u:[redacted]@mq/" in redacted
    assert "secret" in redacted  # a one-letter "secret" is not removed from every word


def test_json_lines_carry_the_fields_and_text_lines_quote_them() -> None:
    redact = Redactor(["s3cret-one"])
    record = _record("webhook delivery", event_id="tm_1", user="u 1\nforged=yes", http_status=200)
    line = json.loads(JsonFormatter(redact).format(record))
    assert line["message"] == "webhook delivery"
    assert line["logger"] == "service.http.webhook"
    assert line["level"] == "INFO"
    assert line["ts"].endswith("Z")
    assert (line["event_id"], line["user"], line["http_status"]) == ("tm_1", "u 1\nforged=yes", 200)
    text = TextFormatter(redact).format(record)
    assert "\n" not in text  # a value cannot start a line of its own
    assert 'event_id=tm_1 user="u 1\\nforged=yes" http_status=200' in text


def test_a_bad_log_format_is_refused_in_one_line(tmp_path: Path) -> None:
    from service.settings import ConfigurationError, Settings

    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"}, tmp_path / "absent.env")


def test_a_signed_id_cannot_forge_a_log_line() -> None:
    forged = "tm_x\n2026-11-30T00:00:00.000Z INFO service.webhook: webhook delivery answer=stored"
    record = logging.LogRecord(
        "service.webhook", logging.INFO, __file__, 1, "delivery %s refused", (forged,), None
    )
    record.fields = {"event_id": forged, "user": "a\x1b[2Jb"}
    text = TextFormatter(Redactor([])).format(record)
    assert "\n" not in text and "\x1b" not in text
    assert "tm_x\\n2026" in text  # escaped, still readable
    line = json.loads(JsonFormatter(Redactor([])).format(record))
    assert line["event_id"] == forged  # JSON keeps the value exactly, on one line
