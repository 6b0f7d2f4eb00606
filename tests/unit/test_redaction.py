"""Secrets are removed where they stand as secrets, and ordinary words are left alone."""

from __future__ import annotations

import json
import logging

import pytest

from service.logs import JsonFormatter, Redactor, TextFormatter, secrets_of

PASSWORDS = ["p@ss/word:1", "postgres", "Zr8q" * 10]  # an unencoded @, a word, 40 characters


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_never_reaches_a_line_in_any_position(password: str) -> None:
    url = f"postgresql://erp:{password}@db.example:5432/erp"  # unencoded, as typed
    redact = Redactor(secrets_of(["webhook-secret-1"], url))
    lines = [
        f"connecting to {url} failed",
        f"amqp://erp:{password}@mq.example/vhost",
        f"password={password} host=db.example",
        f"PGPASSWORD={password} psql",
        f'{{"password": "{password}"}}',
        "signed with webhook-secret-1",
    ]
    for line in lines:
        redacted = redact(line)
        assert password not in redacted.replace("postgres_pw", ""), redacted
        assert "webhook-secret-1" not in redacted
    assert (
        redact(f"amqp://erp:{password}@mq.example/vhost")
        == "amqp://erp:[redacted]@mq.example/vhost"
    )


def test_a_password_that_is_a_word_does_not_blank_that_word() -> None:
    redact = Redactor(secrets_of([], "postgresql://postgres_pw:postgres@db/pointage"))
    line = "database postgres_pw@db:5432/pointage is available, pointage schema in place (postgres)"
    assert redact(line) == line


def test_a_long_or_mixed_password_goes_wherever_it_appears() -> None:
    for password in ("p@ss/word:1", "Zr8q" * 10):
        redact = Redactor(secrets_of([], f"postgresql://erp:{password}@db/erp"))
        assert redact(f"oops {password} oops") == "oops [redacted] oops"


def test_json_lines_stay_json_whatever_is_redacted() -> None:
    redact = Redactor(["webhook-secret-1"])
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, 'url "postgresql://a:b@h/d" and secret=abc', (), None
    )
    line = json.loads(JsonFormatter(redact).format(record))
    assert line["message"] == 'url "[database url]" and secret=[redacted]'
    assert "b@h" not in TextFormatter(redact).format(record)
