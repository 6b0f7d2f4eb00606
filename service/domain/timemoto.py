"""TimeMoto's vocabulary, defined once: event names and clocking actions (docs/contract.md §1)."""

from __future__ import annotations

import enum
from typing import Literal

ATTENDANCE_INSERTED = "attendance.inserted"
ATTENDANCE_UPDATED = "attendance.updated"
ATTENDANCE_DELETED = "attendance.deleted"

TypePointage = Literal["entree", "sortie", "debut_pause", "fin_pause", "inconnu"]


class ClockingAction(enum.IntEnum):
    """`data.clockingActionTypeId`; `data.clockingType` says the same in words."""

    IN = 0
    OUT = 1
    BREAK_START = 2
    BREAK_END = 3

    @property
    def clocking_type(self) -> str:
        """As TimeMoto spells it in `data.clockingType`."""
        return _CLOCKING_TYPE[self]

    @property
    def type_pointage(self) -> TypePointage:
        """The ERP's word for it (`pointage.type_pointage`)."""
        return _TYPE_POINTAGE[self]


_CLOCKING_TYPE = {
    ClockingAction.IN: "In",
    ClockingAction.OUT: "Out",
    ClockingAction.BREAK_START: "BreakStart",
    ClockingAction.BREAK_END: "BreakEnd",
}
_TYPE_POINTAGE: dict[ClockingAction, TypePointage] = {
    ClockingAction.IN: "entree",
    ClockingAction.OUT: "sortie",
    ClockingAction.BREAK_START: "debut_pause",
    ClockingAction.BREAK_END: "fin_pause",
}
