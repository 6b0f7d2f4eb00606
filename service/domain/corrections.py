"""`attendance.updated` / `attendance.deleted`: which stored punch a correction is about. No I/O.

What identifies a clocking (README "Worked time", corrections):
- `data.userId` with `data.timeInserted`: the instant TimeMoto recorded the clocking (UTC, 7
  decimals). It is set once, when the clocking is created, so an edit keeps it.
- `data.userId` with `data.recordHash` as a second key: it names the record as sent; an edit may
  change it, so it only decides when `timeInserted` finds nothing, or narrows several to one.
- `clockingPairId` (an In/Out pair) and `clockingSequenceId` (a user's day) name groups of
  clockings, never one, so they identify nothing.
A correction is applied only to exactly one punch; anything else is kept, unapplied, with why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.timemoto import ATTENDANCE_DELETED, ATTENDANCE_UPDATED

CORRECTION_EVENTS = frozenset({ATTENDANCE_UPDATED, ATTENDANCE_DELETED})

APPLIED = "applique"
UNAPPLIED = "non_applique"


@dataclass(frozen=True, slots=True)
class ClockingRef:
    """What a correction says about the clocking it corrects."""

    user_id: str
    time_inserted: str | None
    record_hash: int | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored punch of that user, with the same two keys read from its stored delivery."""

    pointage_id: int
    time_inserted: str | None
    record_hash: int | None


@dataclass(frozen=True, slots=True)
class Match:
    pointage_id: int


@dataclass(frozen=True, slots=True)
class Unapplied:
    motif: str


def clocking_ref(document: dict[str, Any]) -> ClockingRef | Unapplied:
    data = document.get("data")
    if not isinstance(data, dict):
        return Unapplied("`data` is missing: no clocking is named")
    user_id = data.get("userId")
    if not isinstance(user_id, str) or not user_id.strip():
        return Unapplied("`data.userId` is missing: no clocking is named")
    time_inserted = data.get("timeInserted")
    record_hash = data.get("recordHash")
    ref = ClockingRef(
        user_id=user_id,
        time_inserted=time_inserted if isinstance(time_inserted, str) and time_inserted else None,
        record_hash=record_hash if type(record_hash) is int else None,
    )
    if ref.time_inserted is None and ref.record_hash is None:
        return Unapplied("neither `data.timeInserted` nor `data.recordHash`: no clocking is named")
    return ref


def match(ref: ClockingRef, candidates: Sequence[Candidate]) -> Match | Unapplied:
    """The one stored punch the correction is about, or why there is not exactly one."""
    by_time = [c for c in candidates if ref.time_inserted and c.time_inserted == ref.time_inserted]
    by_hash = [
        c for c in candidates if ref.record_hash is not None and c.record_hash == ref.record_hash
    ]
    if len(by_time) == 1:
        if len(by_hash) == 1 and by_hash[0] != by_time[0]:
            return Unapplied("`timeInserted` and `recordHash` name two different punches")
        return Match(by_time[0].pointage_id)
    if len(by_time) > 1:
        narrowed = [c for c in by_time if c in by_hash]
        if len(narrowed) == 1:
            return Match(narrowed[0].pointage_id)
        return Unapplied(f"{len(by_time)} stored punches of this user share this `timeInserted`")
    if len(by_hash) == 1:
        return Match(by_hash[0].pointage_id)
    if len(by_hash) > 1:
        return Unapplied(f"{len(by_hash)} stored punches of this user share this `recordHash`")
    return Unapplied("no stored punch of this user has this `timeInserted` or `recordHash`")
