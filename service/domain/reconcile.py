"""TimeMoto's export compared with the clockings stored (docs/contract.md §9): per user and
second, what the file has and the table lacks, the other way, and types that differ. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from service.domain.delivery import Punch
from service.domain.timemoto_export import ExportPunch


@dataclass(frozen=True, slots=True)
class StoredPunch:
    """A clocking of `pointage_horodatage`, as the comparison needs it."""

    timemoto_user_id: str
    horodatage: datetime
    type_pointage: str
    date_travail: date
    fuseau_horaire: str
    ignore: bool = False


Kind = Literal["missing", "extra", "type"]


@dataclass(frozen=True, slots=True)
class Difference:
    """`missing`: TimeMoto has it, the clockings lack it; `extra`: the other way; `type`: the
    same user and second with another type (`file_type` and `stored_type`)."""

    kind: Kind
    user_id: str
    day: date
    local_time: time
    file_type: str | None
    stored_type: str | None
    row: int | None = None
    punch: Punch | None = None  # the file's punch, for `missing`


@dataclass(slots=True)
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    matching: int = 0

    def missing(self) -> list[Punch]:
        return [d.punch for d in self.differences if d.kind == "missing" and d.punch is not None]

    def count(self, kind: Kind) -> int:
        return sum(d.kind == kind for d in self.differences)


def _second(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


def compare(exported: Sequence[ExportPunch], stored: Sequence[StoredPunch]) -> Comparison:
    """What differs, by user and second: a stored punch answers one exported punch at most, of
    the same type and the same `ignore` (an ignored clocking of the same second is another)."""
    by_second: dict[tuple[str, datetime], list[StoredPunch]] = defaultdict(list)
    for punch in stored:
        by_second[(punch.timemoto_user_id, _second(punch.horodatage))].append(punch)
    result = Comparison()
    unmatched: list[ExportPunch] = []
    for item in exported:
        key = (item.punch.timemoto_user_id, _second(item.punch.horodatage))
        same = [
            s
            for s in by_second.get(key, [])
            if (s.type_pointage, s.ignore) == (item.punch.type_pointage, item.punch.ignore)
        ]
        if same:
            by_second[key].remove(same[0])
            result.matching += 1
        else:
            unmatched.append(item)
    for item in unmatched:
        p = item.punch
        at_second = by_second.get((p.timemoto_user_id, _second(p.horodatage)), [])
        others = [s for s in at_second if s.type_pointage != p.type_pointage]
        local = p.horodatage.time().replace(tzinfo=None)
        if others:
            other = others[0]
            at_second.remove(other)
            result.differences.append(
                Difference(
                    "type",
                    p.timemoto_user_id,
                    p.date_travail,
                    local,
                    p.type_pointage,
                    other.type_pointage,
                    item.row,
                )
            )
        else:
            result.differences.append(
                Difference(
                    "missing",
                    p.timemoto_user_id,
                    p.date_travail,
                    local,
                    p.type_pointage,
                    None,
                    item.row,
                    p,
                )
            )
    for rest in by_second.values():
        for s in rest:
            result.differences.append(
                Difference(
                    "extra",
                    s.timemoto_user_id,
                    s.date_travail,
                    s.horodatage.astimezone(ZoneInfo(s.fuseau_horaire))
                    .time()
                    .replace(tzinfo=None, microsecond=0),
                    None,
                    s.type_pointage,
                )
            )
    result.differences.sort(key=lambda d: (d.user_id, d.day, d.local_time, d.kind))
    return result
