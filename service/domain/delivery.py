"""TimeMoto deliveries: decoding, validation and the `pointage` row they become. No I/O here.

Unknown fields are accepted and kept: the whole delivery is stored as `payload`.

Whatever a signed body holds, its fate is decided here, before it is acknowledged (docs/contract.md
§1): either InvalidDelivery / NotJson (a 4xx with the reason), or a delivery PostgreSQL can hold.
Hence the limits below: a depth the decoder and the database handle, ids short enough for a btree
index, instants and zones that both Python and PostgreSQL understand, no NUL character in text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import msgspec

from service.domain.timemoto import (
    ATTENDANCE_INSERTED,
    ATTENDANCE_UPDATED,
    ClockingAction,
    TypePointage,
)

MAX_DEPTH = 64  # JSON nesting, checked on the raw bytes before decoding
MAX_ID_LENGTH = 200  # `id` and `data.userId`: indexed columns
MAX_ZONE_LENGTH = 64
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200  # instants outside: a clock gone wrong, or an attack
NUL, REPLACEMENT = "\x00", "\ufffd"  # PostgreSQL text and jsonb cannot hold NUL
_SHOWN = 40  # characters of an offending value echoed in a reason

# data.clockingType, the fallback when data.clockingActionTypeId is absent.
_TYPE_BY_CLOCKING_TYPE: dict[str, TypePointage] = {
    "in": "entree",
    "out": "sortie",
    "breakstart": "debut_pause",
    "break start": "debut_pause",
    "breakin": "debut_pause",
    "breakend": "fin_pause",
    "break end": "fin_pause",
    "breakout": "fin_pause",
}


class InvalidDelivery(ValueError):
    """JSON that is not a valid delivery; the message is the reason given back to the sender."""


class NotJson(ValueError):
    """The body is not JSON at all."""


class Envelope(msgspec.Struct, rename="camel"):
    """The top level every TimeMoto delivery shares, whatever its event."""

    id: str
    event: str
    data: Any = None
    sequence: int | None = None
    dispatched_at: int | float | None = None


class AttendanceData(msgspec.Struct, rename="camel"):
    """The part of `data` that a punch needs; the rest stays in the stored payload."""

    user_id: str
    time_zone: str
    time_logged: str | None = None
    time_logged_rounded: str | None = None
    clocking_action_type_id: int | None = None
    clocking_type: str | None = None
    record_ignored: bool | None = None
    record_hash: int | None = None
    time_inserted: str | None = None


@dataclass(frozen=True, slots=True)
class Punch:
    """One `pointage` row, as the contract names its columns."""

    event_id: str
    timemoto_user_id: str
    type_pointage: TypePointage
    horodatage: datetime
    horodatage_brut: datetime | None
    fuseau_horaire: str
    date_travail: date
    ignore: bool
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A decoded, validated delivery: its envelope, the whole document as sent, and its punch."""

    event_id: str
    event: str
    document: dict[str, Any]
    punch: Punch | None  # set for `attendance.inserted` only


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Does the JSON text nest arrays and objects deeper than `limit`? Read on the raw bytes, so
    that no decoder (nor anything that walks the result) ever recurses that deep."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # every ordinary delivery ends here
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def decode(body: bytes) -> Any:
    if too_deep(body):
        raise NotJson(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise NotJson(f"body is not valid JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Described:
    """What a delivery says of itself, for its log line; each part None where it cannot be read."""

    event_id: str | None = None
    event: str | None = None
    user: str | None = None
    type: TypePointage | None = None  # for attendance.inserted


def describe(document: Any) -> Described:
    if not isinstance(document, dict):
        return Described()
    data = document.get("data")
    data = data if isinstance(data, dict) else {}
    event = _text(document.get("event"))
    punch_type = None
    if event == ATTENDANCE_INSERTED:
        action = data.get("clockingActionTypeId")
        punch_type = type_pointage(
            action if type(action) is int else None, _text(data.get("clockingType"))
        )
    return Described(_text(document.get("id")), event, _text(data.get("userId")), punch_type)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def holds_no_nul(body: bytes) -> bool:
    """No string decoded from this JSON body can hold a NUL: JSON writes one only as the escape
    `\\u0000` (a raw control character is invalid JSON, and msgspec refuses it)."""
    return b"\\u0000" not in body


def parse_delivery(document: Any, *, nul_free: bool = False) -> Delivery:
    """Validate a decoded body; raises InvalidDelivery with the reason. `nul_free`: its body
    `holds_no_nul`, so no string needs looking at for one (most bodies: the walk is 3% of a
    delivery's CPU)."""
    if not isinstance(document, dict):
        raise InvalidDelivery("a delivery is a JSON object")
    if not nul_free:
        _no_nul_in_naming_fields(document)
        document = without_nul(document)
    try:
        envelope = msgspec.convert(document, Envelope)
    except msgspec.ValidationError as exc:
        raise InvalidDelivery(str(exc)) from exc
    _check_id(envelope.id, "id")
    if not envelope.event.strip():
        raise InvalidDelivery("`event` is empty")
    if isinstance(envelope.data, dict) and isinstance(envelope.data.get("userId"), str):
        _check_id(envelope.data["userId"], "data.userId")
    punch = None
    if envelope.event == ATTENDANCE_INSERTED:
        punch = parse_punch(envelope, document)
    elif envelope.event == ATTENDANCE_UPDATED:
        parse_punch(envelope, document)  # the clocking as corrected must be one we could store
    return Delivery(envelope.id, envelope.event, document, punch)


def parse_body(body: bytes) -> Delivery:
    """A delivery from its raw body (the drainer's and the requeue's; the intake, which also
    describes the document for its log line, does the same in two steps)."""
    return parse_delivery(decode(body), nul_free=holds_no_nul(body))


def parse_punch(envelope: Envelope, document: dict[str, Any]) -> Punch:
    """The `pointage` row of an `attendance.inserted` (or `.updated`) delivery."""
    if not isinstance(envelope.data, dict):
        raise InvalidDelivery("`data` must be an object")
    try:
        data = msgspec.convert(envelope.data, AttendanceData)
    except msgspec.ValidationError as exc:
        raise InvalidDelivery(f"{exc} (in `data`)") from exc
    _check_id(data.user_id, "data.userId")
    zone = _zone(data.time_zone)
    logged = _local_instant(data.time_logged, zone, "timeLogged")
    rounded = _local_instant(data.time_logged_rounded, zone, "timeLoggedRounded")
    instant = rounded or logged
    if instant is None:
        raise InvalidDelivery("`data.timeLoggedRounded` and `data.timeLogged` are both missing")
    return Punch(
        event_id=envelope.id,
        timemoto_user_id=data.user_id,
        type_pointage=type_pointage(data.clocking_action_type_id, data.clocking_type),
        horodatage=instant,
        horodatage_brut=logged,
        fuseau_horaire=data.time_zone,
        date_travail=instant.astimezone(zone).date(),
        ignore=bool(data.record_ignored),
        payload=document,
    )


# The fields that name things (a delivery, an event, a user, a zone): a NUL there is refused, as
# replacing it would name something else. Anywhere else it becomes U+FFFD and the delivery is kept.
_NAMING_FIELDS = (("id",), ("event",), ("data", "userId"), ("data", "timeZone"))


def _no_nul_in_naming_fields(document: dict[str, Any]) -> None:
    for path in _NAMING_FIELDS:
        value: Any = document
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and NUL in value:
            raise InvalidDelivery(f"`{'.'.join(path)}` holds a NUL character (\\u0000)")


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its strings and keys replaced by U+FFFD (depth is bounded by
    MAX_DEPTH, checked before decoding)."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def _check_id(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidDelivery(f"`{field}` is empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidDelivery(f"`{field}` is longer than {MAX_ID_LENGTH} characters")


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def type_pointage(action_id: int | None, clocking_type: str | None) -> TypePointage:
    if action_id is not None:
        try:
            return ClockingAction(action_id).type_pointage
        except ValueError:
            return "inconnu"
    if clocking_type:
        return _TYPE_BY_CLOCKING_TYPE.get(clocking_type.strip().lower(), "inconnu")
    return "inconnu"


@functools.cache
def _zone_names() -> frozenset[str]:
    """The IANA database's names, as the `tzdata` package lists them: not whatever files the
    system's zoneinfo folder holds (Debian's has `localtime`, which PostgreSQL does not know)."""
    listed = files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) & frozenset(available_timezones())


def _zone(name: str) -> ZoneInfo:
    """Only names of the IANA database (both Python and PostgreSQL know them): no file paths,
    no abbreviations, nothing that makes zoneinfo search at length."""
    if len(name) > MAX_ZONE_LENGTH or name not in _zone_names():
        raise InvalidDelivery(f"`data.timeZone` {_shown(name)} is not an IANA time zone")
    return ZoneInfo(name)


def _local_instant(value: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """TimeMoto sends local wall-clock time without offset; the zone makes it an instant.

    A wall-clock time repeated by a daylight-saving change is read as its first occurrence
    (fold=0); an explicit offset, if one is ever present, wins over the zone.
    """
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDelivery(
            f"`data.{field}` {_shown(value)} is not an ISO 8601 date-time"
        ) from exc
    # On the wall-clock year, before any conversion can overflow (year 1 at +14:00, say).
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise InvalidDelivery(
            f"`data.{field}` {_shown(value)} is not between {EARLIEST_YEAR} and {LATEST_YEAR}"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed
