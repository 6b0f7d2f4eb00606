"""Deliveries in the exact shape TimeMoto sends (service/samples/attendance.inserted.json)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.timemoto import ClockingAction


def clocking_type(action: int) -> str:
    """`data.clockingType` for an action id, as TimeMoto spells it."""
    try:
        return ClockingAction(action).clocking_type
    except ValueError:
        return "Unknown"


@dataclass(frozen=True, slots=True)
class Employee:
    user_id: str
    first_name: str
    last_name: str
    employee_number: str
    time_zone: str = "Africa/Tunis"


def attendance_inserted(
    employee: Employee,
    action: int,
    local_time: datetime,
    *,
    sequence: int = 1,
    event_id: str | None = None,
    rounded: datetime | None = None,
    ignored: bool = False,
    record_hash: int = -1730805271945493659,
    inserted_at: datetime | None = None,
) -> dict[str, Any]:
    """One `attendance.inserted` delivery; `local_time` is naive wall-clock time in the zone.

    `inserted_at` (aware) is when TimeMoto recorded it: by default the clocking's own instant; a
    clocking added later by a manager is inserted, and so dispatched, days after it happened.
    """
    zone = ZoneInfo(employee.time_zone)
    inserted = (inserted_at or local_time.replace(tzinfo=zone)).astimezone(UTC)
    return {
        "id": event_id or f"tm_{uuid.uuid4().hex}",
        "event": "attendance.inserted",
        "sequence": sequence,
        "dispatchedAt": int(inserted.timestamp()) + 2,
        "data": {
            "clockingType": clocking_type(action),
            "deviceSerialNumber": "125058917500311",
            "clientId": "6d1f0c3e-2b7a-4e59-9c1d-0a8b7e6f5d43",
            "userId": employee.user_id,
            "userCardNumber": None,
            "userFirstName": employee.first_name,
            "userLastName": employee.last_name,
            "userFullName": f"{employee.first_name} {employee.last_name}",
            "userEmployeeNumber": employee.employee_number,
            "departmentId": None,
            "departmentName": None,
            "locationId": "0c9b8a7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
            "locationName": "Atelier Ksar Hellal",
            "projectId": None,
            "projectName": None,
            "projectCode": None,
            "timeZone": employee.time_zone,
            "timeLogged": local_time.isoformat(timespec="seconds"),
            "timeLoggedRounded": (rounded or local_time).isoformat(timespec="seconds"),
            "timeInserted": inserted.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
            "clockingActionTypeId": action,
            "verificationModeId": 4,
            "recordHash": record_hash,
            "recordIgnored": ignored,
            "clockingPairId": None,
            "clockingSequenceId": None,
            "planningId": 0,
            "absenceTypeId": None,
            "absenceTypeName": None,
            "color": None,
            "comment": None,
            "payPeriodId": None,
            "payPeriodName": None,
        },
    }
