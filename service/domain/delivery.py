"""TimeMoto deliveries: decoding, validation and the `pointage` row they become. No I/O here.

Unknown fields are accepted and kept: the whole delivery is stored as `payload`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from service.domain.timemoto import ATTENDANCE_INSERTED, ClockingAction, TypePointage

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


def decode(body: bytes) -> Any:
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


def peek_event_id(document: Any) -> str | None:
    """The delivery id if one can be read, so that even a rejection names what it rejects."""
    if isinstance(document, dict):
        event_id = document.get("id")
        if isinstance(event_id, str) and event_id:
            return event_id
    return None


def parse_delivery(document: Any) -> Delivery:
    """Validate a decoded body; raises InvalidDelivery with the reason."""
    if not isinstance(document, dict):
        raise InvalidDelivery("a delivery is a JSON object")
    try:
        envelope = msgspec.convert(document, Envelope)
    except msgspec.ValidationError as exc:
        raise InvalidDelivery(str(exc)) from exc
    if not envelope.id.strip():
        raise InvalidDelivery("`id` is empty")
    if not envelope.event.strip():
        raise InvalidDelivery("`event` is empty")
    punch = parse_punch(envelope, document) if envelope.event == ATTENDANCE_INSERTED else None
    return Delivery(envelope.id, envelope.event, document, punch)


def parse_punch(envelope: Envelope, document: dict[str, Any]) -> Punch:
    """The `pointage` row of an `attendance.inserted` delivery."""
    if not isinstance(envelope.data, dict):
        raise InvalidDelivery("`data` must be an object")
    try:
        data = msgspec.convert(envelope.data, AttendanceData)
    except msgspec.ValidationError as exc:
        raise InvalidDelivery(f"{exc} (in `data`)") from exc
    if not data.user_id.strip():
        raise InvalidDelivery("`data.userId` is empty")
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


def type_pointage(action_id: int | None, clocking_type: str | None) -> TypePointage:
    if action_id is not None:
        try:
            return ClockingAction(action_id).type_pointage
        except ValueError:
            return "inconnu"
    if clocking_type:
        return _TYPE_BY_CLOCKING_TYPE.get(clocking_type.strip().lower(), "inconnu")
    return "inconnu"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidDelivery(f"`data.timeZone` {name!r} is not an IANA time zone") from exc


def _local_instant(value: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """TimeMoto sends local wall-clock time without offset; the zone makes it an instant.

    A wall-clock time repeated by a daylight-saving change is read as its first occurrence
    (fold=0); an offset, if one is ever present, is respected as it is.
    """
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDelivery(f"`data.{field}` {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed
