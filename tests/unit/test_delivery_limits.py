"""docs/contract.md §1's limits, each at its edge and one past it (pure: no server, no database)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.delivery import (
    MAX_DEPTH,
    NUL,
    InvalidDelivery,
    NotJson,
    decode,
    holds_no_nul,
    parse_body,
    parse_delivery,
    too_deep,
)
from tests.support.hostile import a_document


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def parse(**data: Any) -> Any:
    document = a_document()
    document["data"].update(data)
    return parse_body(json.dumps(document).encode())


def test_nesting_at_the_limit_is_read_and_one_deeper_is_400() -> None:
    assert decode(nested(MAX_DEPTH)) is not None
    with pytest.raises(NotJson, match="deeper than 64"):
        decode(nested(MAX_DEPTH + 1))


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 1000, "b": '\\"[[[' * 100}).encode()
    assert not too_deep(text)
    assert too_deep(b'{"a": "x\\"", "b": ' + nested(MAX_DEPTH) + b"}")  # escaped quote handled


@pytest.mark.parametrize("field", ["id", "userId"])
def test_ids_of_200_characters_pass_and_201_are_422(field: str) -> None:
    def with_id(value: str) -> Any:
        document = a_document()
        if field == "id":
            document["id"] = value
        else:
            document["data"]["userId"] = value
        return parse_delivery(decode(json.dumps(document).encode()))

    assert with_id("x" * 200)
    with pytest.raises(InvalidDelivery, match="longer than 200"):
        with_id("x" * 201)
    with pytest.raises(InvalidDelivery, match="empty"):
        with_id("  ")


@pytest.mark.parametrize(
    ("instant", "accepted"),
    [
        ("1899-12-31T23:59:59", False),
        ("1900-01-01T00:00:00", True),
        ("2200-12-31T23:59:59", True),
        ("2201-01-01T00:00:00", False),
        ("0001-01-01T00:00:00+14:00", False),
        ("9999-12-31T23:59:59-12:00", False),
    ],
)
def test_instants_from_1900_to_2200(instant: str, accepted: bool) -> None:
    if accepted:
        assert parse(timeLoggedRounded=instant).punch is not None
    else:
        with pytest.raises(InvalidDelivery, match="between 1900 and 2200"):
            parse(timeLoggedRounded=instant)


def test_an_explicit_offset_wins_over_the_zone() -> None:
    punch = parse(timeLoggedRounded="2026-11-30T08:00:00+05:00").punch
    assert punch.horodatage.isoformat() == "2026-11-30T08:00:00+05:00"
    assert str(punch.date_travail) == "2026-11-30"  # 04:00 in Tunis


@pytest.mark.parametrize(
    ("zone", "accepted"),
    [
        ("America/Argentina/ComodRivadavia", True),  # 32 characters, a real (alias) name
        ("Africa/Tunis", True),
        ("A" * 65, False),
        ("A/" * 2000, False),
        ("../../etc/passwd", False),
        ("africa/tunis", False),
        ("Mars/Olympus", False),
        ("localtime", False),  # a file of Debian's zoneinfo folder, not an IANA name
    ],
)
def test_time_zones_are_iana_names_of_at_most_64_characters(zone: str, accepted: bool) -> None:
    if accepted:
        assert parse(timeZone=zone).punch is not None
    else:
        with pytest.raises(InvalidDelivery, match="not an IANA time zone"):
            parse(timeZone=zone)


@pytest.mark.parametrize("path", [("id",), ("event",), ("data", "userId"), ("data", "timeZone")])
def test_a_nul_in_a_naming_field_is_422(path: tuple[str, ...]) -> None:
    document = a_document()
    target = document if len(path) == 1 else document["data"]
    target[path[-1]] = target[path[-1]] + "\u0000"
    with pytest.raises(InvalidDelivery, match="NUL"):
        parse_body(json.dumps(document).encode())


def test_a_nul_anywhere_else_becomes_u_fffd_and_the_delivery_is_kept() -> None:
    document = a_document()
    document["data"]["userFirstName"] = "Am\u0000ira"
    document["data"]["odd\u0000key"] = ["x\u0000"]
    delivery = parse_body(json.dumps(document).encode())
    stored = delivery.punch.payload["data"]
    assert stored["userFirstName"] == "Am\ufffdira"
    assert stored["odd\ufffdkey"] == ["x\ufffd"]
    assert "\u0000" not in json.dumps(delivery.document)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON, st.sampled_from(["json", "json-ascii", "msgspec"]))
def test_a_body_said_to_hold_no_nul_decodes_to_strings_without_one(
    value: Any, encoder: str
) -> None:
    """Whatever the sender's JSON encoder: the intake skips looking for NULs on its word."""
    if encoder == "msgspec":
        body = msgspec.json.encode(value)
    else:
        body = json.dumps(value, ensure_ascii=encoder == "json-ascii").encode()
    if holds_no_nul(body):
        assert not any(NUL in s for s in _strings(decode(body)))
    else:
        assert any(NUL in s for s in _strings(decode(body))) or b"\\\\u0000" in body
