"""The workshop's working hours (`WORKING_HOURS`, `WORKING_TIMEZONE`) and the time that elapses
inside them. Pure: no clock, no I/O.

`WORKING_HOURS` is a comma-separated list of `DAYS HH:MM-HH:MM`, where DAYS is one day or a range
of days, in English or French three-letter abbreviations: `Mon-Sat 06:00-20:00` (the default),
`Mon-Fri 06:00-20:00, Sat 07:00-13:00`, `lun-ven 22:00-06:00` (a night: the end is on the next
day), `Mon-Sun 00:00-24:00` (always). Wall-clock times are read in the zone, so a day on which the
clocks change is as long as it really is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_WORKING_HOURS = "Mon-Sat 06:00-20:00"

_DAYS = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("lun", "mar", "mer", "jeu", "ven", "sam", "dim"))},
}
_ENTRY = re.compile(
    r"(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
)
MAX_SPAN_DAYS = 400  # beyond this a silence is long whatever the hours: count no further


class WorkingHoursError(ValueError):
    """Not a working-hours text; the message says what is expected."""


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise WorkingHoursError(f"{text} is not a time of day (HH:MM, 00:00 to 24:00)")
    return hours * 60 + minutes


@dataclass(frozen=True, slots=True)
class Window:
    """On each of `weekdays` (0 = Monday), from `start` to `end` minutes after midnight; an end
    at or before the start is on the next day."""

    weekdays: frozenset[int]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WorkingHours:
    windows: tuple[Window, ...]
    zone: ZoneInfo
    text: str = DEFAULT_WORKING_HOURS

    @classmethod
    def parse(cls, text: str, zone: str | ZoneInfo = "Africa/Tunis") -> WorkingHours:
        tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        windows = []
        for raw in text.split(","):
            entry = raw.strip().lower()
            match = _ENTRY.fullmatch(entry)
            if match is None:
                raise WorkingHoursError(
                    f"{raw.strip()!r} is not DAYS HH:MM-HH:MM (e.g. {DEFAULT_WORKING_HOURS})"
                )
            first, last = match["first"], match["last"] or match["first"]
            for day in (first, last):
                if day not in _DAYS:
                    raise WorkingHoursError(f"{day!r} is not a day (Mon … Sun, or lun … dim)")
            start, end = _minutes(match["start"]), _minutes(match["end"])
            if start == 24 * 60:
                raise WorkingHoursError("a window cannot start at 24:00")
            a, b = _DAYS[first], _DAYS[last]
            days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
            windows.append(Window(days, start, end))
        if not windows:
            raise WorkingHoursError(f"no working hours given (e.g. {DEFAULT_WORKING_HOURS})")
        return cls(tuple(windows), tz, text.strip())

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals that start on local date `day`, as UTC instants."""
        intervals = []
        for window in self.windows:
            if day.weekday() not in window.weekdays:
                continue
            begins = _local(day, window.start, self.zone)
            end_day = day if window.end > window.start else day + timedelta(days=1)
            ends = _local(end_day, window.end, self.zone)
            intervals.append((begins, ends))
        return intervals

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds elapsed from `start` to `end` (aware datetimes); 0 if end <= start."""
        if end <= start:
            return 0.0
        start = max(start, end - timedelta(days=MAX_SPAN_DAYS))
        first = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        total = 0.0
        day = first
        while day <= last:
            for begins, ends in self._intervals(day):
                overlap = (min(ends, end) - max(begins, start)).total_seconds()
                if overlap > 0:
                    total += overlap
            day += timedelta(days=1)
        return total

    def is_working(self, at: datetime) -> bool:
        day = at.astimezone(self.zone).date()
        return any(
            begins <= at < ends
            for d in (day - timedelta(days=1), day)
            for begins, ends in self._intervals(d)
        )


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The instant of local wall-clock `minutes` after midnight on `day` (24:00: next midnight).

    A wall-clock time that does not exist (the hour skipped in spring) is read as after the
    change, one that exists twice (autumn) as its first occurrence.
    """
    if minutes >= 24 * 60:
        day, minutes = day + timedelta(days=1), minutes - 24 * 60
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    return instant
