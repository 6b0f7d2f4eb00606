"""Secrets are removed where they stand as secrets, and ordinary words are left alone."""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# The guard in `Redactor.__call__` skips the substitutions when none can match: each case below
# needs them, in a spelling (case, Unicode folding, position) a narrower guard would miss.
HEX = "0123456789abcdef" * 4
MIXED_CASES = [
    "PassWord=hunter22",
    "login PASSWD: 'hunter22'",
    "export PgPassWord=hunter22",
    '{"SeCrEt": "hunter22"}',
    "pa\u017f\u017fword=hunter22",  # ſ: re's IGNORECASE folds it to s, str.lower() does not
    "\u017fecret=hunter22",
    "POSTGRESQL://u:p@h/db",
    "Postgres+AsyncPG://u@h/db",
    "AMQP://u:hunter22@mq/",
    f"sig {HEX.upper()}",
    f"sha256={HEX[:32].upper()}{HEX[32:]}",
    HEX,  # 64 characters: the shortest string that can hold a digest
    f"{'-' * 100} {HEX.upper()} {'-' * 100}",
    "thewebhook-Secret-1isHere",  # a secret inside a word
    "tokenwebhook-secret-1",
]


@pytest.mark.parametrize("text", MIXED_CASES)
def test_the_guard_lets_every_spelling_reach_the_substitutions(text: str) -> None:
    redact = Redactor(["webhook-Secret-1", "webhook-secret-1"])
    assert redact(text) == redact._redact(text) != text


def _folding_to(letters: str) -> list[str]:
    """Every character re's IGNORECASE matches to one of `letters`, over all of Unicode."""
    everything = "".join(map(chr, range(0x110000)))
    return re.findall(f"(?i)[{letters}]", everything)


PAIRS = [
    *(first + rest for first in _folding_to("p") for rest in ("assword=x1", "asswd=x1")),
    *(first + "ecret=x1" for first in _folding_to("s")),
]


@pytest.mark.parametrize("pair", PAIRS)
def test_every_case_folding_of_a_first_letter_is_looked_for(pair: str) -> None:
    redact = Redactor([])
    assert redact(pair) == redact._redact(pair) != pair


SECRETS = ["webhook-secret-1", "p@ss/word:1", "Zr8q" * 10]
FRAGMENTS = [
    "://", "postgres", "PostgreSQL", "+asyncpg", "amqp", "password", "PassWD", "pgPASSWORD",
    "SECRET", "\u017fecret", "=", ": ", " ", "@", "/", "'", '"', "}", ",", "sha256=", HEX,
    HEX.upper(), HEX[:40], "webhook-", "secret-1", "p@ss", *SECRETS,
]  # fmt: skip
texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=12).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(text=texts)
def test_the_guarded_redactor_equals_the_unguarded_one(text: str) -> None:
    redact = Redactor(SECRETS)
    assert redact(text) == redact._redact(text)
