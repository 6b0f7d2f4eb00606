"""Since when the database's state (up, down, not known yet) holds. Pure: the caller brings the
clock (the recovery's wall clock for the status page, the monitor's own for its alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DatabaseState:
    up: bool | None  # None: not known yet (the first probe has not answered)
    since: datetime
    since_start: bool  # nothing changed since the service started


class StateClock:
    def __init__(self, started_at: datetime) -> None:
        self._started_at = started_at
        self.state = DatabaseState(None, started_at, True)

    def observe(self, up: bool | None, now: datetime) -> DatabaseState:
        """The state now; a change dates from `now`, except the first answer (up or down),
        which dates from the start: that is all we know."""
        if up != self.state.up:
            first = self.state.up is None
            self.state = DatabaseState(
                up, self._started_at if first else now, first and self.state.since_start
            )
        return self.state
