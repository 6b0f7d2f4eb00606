"""What the webhook has answered, counted in memory (docs/contract.md §6): today's answers by status
and the signature failures of the last 24 hours, each with the instant counting began (a restart
starts them again, and the status page says since when). Pure: the caller gives the instants.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SIGNATURE_WINDOW = timedelta(hours=24)
HOURLY_WINDOW = timedelta(hours=48)  # deliveries per hour kept, for the status page's chart
MAX_REMEMBERED = 100_000  # signature failures kept; a flood beyond this is counted as this many


@dataclass
class Activity:
    zone: ZoneInfo
    since: datetime  # counting began (the process started)
    _day: date | None = None
    _today: Counter[str] = field(default_factory=Counter)
    _today_since: datetime | None = None
    _signature_failures: deque[datetime] = field(default_factory=deque)
    last_acknowledged: datetime | None = None  # the last 200 or 202, in this process
    # Deliveries acknowledged (200, 202) per hour (UTC start): what the service itself answered,
    # so that an outage still shows the deliveries it queued.
    _hourly: Counter[datetime] = field(default_factory=Counter)

    def record(self, answer: str, http_status: int, at: datetime) -> None:
        self._roll(at)
        self._today[answer] += 1
        if http_status == 401:
            self._signature_failures.append(at)
            while len(self._signature_failures) > MAX_REMEMBERED:
                self._signature_failures.popleft()
        if http_status in (200, 202):
            self.last_acknowledged = max(at, self.last_acknowledged or at)
            hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            if hour not in self._hourly:  # a new hour: forget those past the window
                for old in [h for h in self._hourly if h <= hour - HOURLY_WINDOW]:
                    del self._hourly[old]
            self._hourly[hour] += 1

    def acknowledged_per_hour(self) -> dict[datetime, int]:
        """Deliveries acknowledged per hour (UTC hour starts), over the last 48 hours."""
        return dict(self._hourly)

    def _roll(self, now: datetime) -> None:
        today = now.astimezone(self.zone).date()
        if self._day != today:
            if self._day is not None:  # a new local day: its counts start at its midnight
                self._today_since = datetime.combine(today, datetime.min.time(), self.zone)
            self._day = today
            self._today.clear()

    def today(self, now: datetime) -> dict[str, int]:
        """Answers since local midnight (or since the start, if later), by body `status`."""
        self._roll(now)
        return dict(sorted(self._today.items()))

    def today_since(self, now: datetime) -> datetime:
        self._roll(now)
        return self._today_since or self.since

    def signature_failures(self, now: datetime, window: timedelta = SIGNATURE_WINDOW) -> int:
        """401 answers within `window` before `now`."""
        while self._signature_failures and self._signature_failures[0] <= now - SIGNATURE_WINDOW:
            self._signature_failures.popleft()
        limit = now - window
        return sum(1 for at in reversed(self._signature_failures) if at > limit)

    def signature_failures_since(self, now: datetime) -> datetime:
        """Since when the 24-hour count is complete: the start, within the first day."""
        return max(self.since, now - SIGNATURE_WINDOW)
