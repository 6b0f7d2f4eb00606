"""A corpus of hostile deliveries, as an attacker with the secret (or a broken sender) would send.

Each entry is (name, raw body). The bodies start from TimeMoto's sample, so that whatever a
mutation does not touch is a real delivery, and each gets its own `id` unless the mutation is
about the id.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tests.support.samples import sample_delivery

Body = tuple[str, bytes]

DATA_FIELDS = (
    "userId",
    "timeZone",
    "timeLogged",
    "timeLoggedRounded",
    "timeInserted",
    "clockingActionTypeId",
    "clockingType",
    "recordHash",
    "recordIgnored",
    "userFirstName",
    "locationName",
    "comment",
)
ODD_VALUES: dict[str, Any] = {
    "null": None,
    "empty": "",
    "int": 7,
    "float": 3.5,
    "bool": True,
    "list": [1, "a"],
    "object": {"a": 1},
    "huge": "x" * 100_000,
    "sql": "'; DROP TABLE pointage; --",
    "nul": "a\u0000b",
    "controls": "line\nbreak\r\x1b[31mred",
}
ZONES = (
    "",
    "UTC",
    "Etc/GMT+14",
    "Etc/GMT-14",
    "America/Argentina/ComodRivadavia",
    "africa/tunis",
    "A/" * 2000,
    "../../../../etc/passwd",
    "/usr/share/zoneinfo/Africa/Tunis",
    "posixrules",
    "localtime",
    "Factory",
    "EST5EDT",
    "Mars/Olympus",
    "Z" * 65,
    "Africa/Tunis\u0000",
    "Africa/Tunis ",
)
INSTANTS = (
    "1899-12-31T23:59:59",
    "1900-01-01T00:00:00",
    "2200-12-31T23:59:59",
    "2201-01-01T00:00:00",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T08:00:00",
    "2026-11-30T23:59:60",
    "2026-11-30",
    "08:00:00",
    "2026-11-30T08:00:00+05:00",
    "2026-11-30T08:00:00Z",
    "2026-03-29T02:30:00",
    "2026-10-25T02:30:00",
    "not a date",
    "2026-11-30T08:00:00.1234567890123",
)


def a_document(**changes: Any) -> dict[str, Any]:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document.update(changes)
    return document


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _with(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    document = a_document()
    mutate(document)
    return _encode(document)


def _set_data(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        document["data"][field] = copy.deepcopy(value)

    return mutate


def _nested(depth: int, kind: str) -> bytes:
    """`depth` levels of arrays or objects as JSON text (built as text: no encoder recurses)."""
    opening, closing = (b"[", b"]") if kind == "list" else (b'{"k":', b"}")
    return opening * depth + b"1" + closing * depth


def hostile_bodies() -> Iterator[Body]:
    """At least 200 bodies, every class of input the issue lists."""
    # Nesting: at the limit, one past, far past, in strings (which do not count), unbalanced.
    for depth in (61, 62, 63, 64, 100, 500, 900, 5000):
        for kind in ("list", "dict"):
            # data.comment sits 2 levels down: the whole body nests depth + 2 deep.
            body = _with(_set_data("comment", "__nested__"))
            yield f"nesting {kind} {depth}", body.replace(b'"__nested__"', _nested(depth, kind))
    yield "nesting at the top 1000", b"[" * 1000 + b"]" * 1000
    yield "brackets inside strings", _with(_set_data("comment", "[" * 5000 + "{" * 5000))
    yield "unbalanced brackets", b'{"id": "tm_x", "event": [[[[' + b"[" * 70

    # Sizes: a body filled up to the limit and one byte past it.
    base = _with(_set_data("comment", ""))
    room = 256 * 1024 - len(base)
    yield "256 KiB exactly", _with(_set_data("comment", "x" * room))
    yield "256 KiB + 1", _with(_set_data("comment", "x" * (room + 1)))

    # Encodings.
    sample = _encode(a_document())
    yield "invalid utf-8", sample.replace(b"Amira", b"Am\xffira")
    yield "overlong utf-8", sample.replace(b"Amira", b"Am\xc0\xafira")
    yield "utf-16", json.dumps(a_document()).encode("utf-16")
    yield "utf-8 bom", b"\xef\xbb\xbf" + _encode(a_document())
    yield "latin-1", _encode(a_document()).replace(b"Amira", "Amïra".encode("latin-1"))
    yield "lone surrogate escaped", _encode(a_document()).replace(b"Amira", b"\\ud800")
    yield "low surrogate escaped", _encode(a_document()).replace(b"Amira", b"\\udc00")
    yield "emoji and rtl", _with(_set_data("userFirstName", "😀\u202eأميرة\u200b"))

    # Numbers.
    for name, number in (
        ("2^63", b"9223372036854775808"),
        ("-2^63-1", b"-9223372036854775809"),
        ("2^64", b"18446744073709551616"),
        ("10^30", b"1000000000000000000000000000000"),
        ("1e308", b"1e308"),
        ("1e999", b"1e999"),
        ("-0", b"-0"),
        ("tiny", b"1.0e-400"),
        ("NaN", b"NaN"),
        ("Infinity", b"Infinity"),
    ):
        for field in ("recordHash", "clockingActionTypeId", "comment"):
            marker = f'"__{field}__"'
            document = a_document()
            document["data"][field] = f"__{field}__"
            yield f"{field} {name}", _encode(document).replace(marker.encode(), number)
        document = a_document()
        document["sequence"] = "__seq__"
        yield f"sequence {name}", _encode(document).replace(b'"__seq__"', number)

    # Each data field: null, empty, wrong types, 100k characters, SQL, NUL, control characters.
    for field in DATA_FIELDS:
        for name, value in ODD_VALUES.items():
            yield f"data.{field} {name}", _with(_set_data(field, value))
    yield "data.userId 4 KB", _with(_set_data("userId", "u" * 4096))
    yield "data.userId 200", _with(_set_data("userId", "u" * 200))
    yield "data.userId 201", _with(_set_data("userId", "u" * 201))

    # Time zones and instants.
    for zone in ZONES:
        yield f"timeZone {zone[:30]!r}", _with(_set_data("timeZone", zone))
    for instant in INSTANTS:
        yield f"timeLoggedRounded {instant}", _with(_set_data("timeLoggedRounded", instant))
        yield (
            f"timeLogged only {instant}",
            _with(lambda d, i=instant: d["data"].update(timeLogged=i, timeLoggedRounded=None)),
        )

    # NUL in every position: the naming fields, other values, keys.
    for field in ("id", "event"):
        yield f"NUL in {field}", _with(lambda d, f=field: d.update({f: d[f] + "\u0000"}))
    yield "NUL in a key", _with(lambda d: d["data"].update({"odd\u0000key": 1}))
    yield "NUL in a top-level key", _with(lambda d: d.update({"x\u0000": "y\u0000"}))
    yield "NUL deep", _with(_set_data("comment", [{"a\u0000": ["b\u0000"]}]))

    # Duplicate keys (the last one wins, as in most decoders).
    document = a_document()
    text = _encode(document).decode()
    yield "duplicate id", text.replace('"event"', f'"id": "{document["id"]}x", "event"', 1).encode()
    yield "duplicate data", text[:-1].encode() + b', "data": {"userId": "u"}}'

    # Wrong shapes.
    for name, raw in (
        ("array", b"[]"),
        ("string", b'"tm"'),
        ("number", b"12"),
        ("null", b"null"),
        ("true", b"true"),
        ("empty body", b""),
        ("whitespace", b"   "),
        ("empty object", b"{}"),
        ("truncated", sample[: len(sample) // 2]),
        ("trailing garbage", sample + b"xyz"),
        ("two documents", sample + sample),
    ):
        yield f"shape {name}", raw
    for name, value in (("list", [1]), ("string", "x"), ("number", 3), ("null", None)):
        yield f"data {name}", _with(lambda d, v=value: d.update(data=v))
    yield "no data", _with(lambda d: d.pop("data"))
    yield "no event", _with(lambda d: d.pop("event"))
    yield "no id", _with(lambda d: d.pop("id"))

    # Ids.
    for name, event_id in (
        ("200", "t" * 200),
        ("201", "t" * 201),
        ("8 KB", "t" * 8192),
        ("empty", ""),
        ("blank", "   "),
        ("newline", "tm_forged\n2026-11-30T00:00:00Z INFO service.webhook: forged"),
        ("ansi", "tm_\x1b[2J"),
        ("sql", "tm_'; DROP TABLE pointage; --"),
        ("unicode", "tm_été_😀"),
        ("int", 42),
        ("null", None),
    ):
        yield f"id {name}", _with(lambda d, i=event_id: d.update(id=i))

    # Events.
    for event in (
        "user.created",
        "user.deleted",
        "webhook.test",
        "",
        "e" * 100_000,
        "attendance.updated",
        "attendance.deleted",
        "ATTENDANCE.INSERTED",
        "attendance.inserted ",
    ):
        yield f"event {event[:30]!r}", _with(lambda d, e=event: d.update(event=e))
    for event in ("attendance.updated", "attendance.deleted"):
        yield f"{event} without data", _with(lambda d, e=event: d.update(event=e, data=None))
        yield (
            f"{event} odd data",
            _with(lambda d, e=event: d.update(event=e, data={"userId": 1, "recordHash": "x"})),
        )


def unsigned_bodies() -> Iterator[Body]:
    """What reaches the webhook without a valid signature: never read beyond the 401."""
    yield "nesting 100000", b"[" * 100_000 + b"]" * 100_000
    yield "a normal delivery", _encode(a_document())
    yield "not json", b"\xff\xfe garbage"
    yield "huge zone", _with(_set_data("timeZone", "A/" * 2000))
