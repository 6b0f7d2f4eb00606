"""The status page's chart of deliveries per hour over 48 hours, laid out for inline SVG. Pure:
numbers and labels; the template draws them (service/templates/status.html.j2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HOURS = 48
WIDTH = 480  # viewBox units: one bar slot of 10 per hour
HEIGHT = 160
PLOT_TOP = 16
PLOT_BOTTOM = 140  # below: the hour labels
SLOT = WIDTH / HOURS
WEEKDAYS_FR = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")


@dataclass(frozen=True, slots=True)
class Bar:
    hour: datetime  # UTC, start of the hour
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str  # "lun 30/11 14h–15h : 12 livraisons"
    working: bool  # inside the working hours (shaded)


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    text: str
    midnight: bool


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    ticks: list[Tick]
    maximum: int
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM

    @property
    def summary(self) -> str:
        return (
            f"{self.total} livraison(s) en 48 h, au plus {self.maximum} en une heure"
            if self.total
            else "aucune livraison en 48 h"
        )


def hours_ending(now: datetime) -> list[datetime]:
    """The 48 hour starts (UTC) up to the current hour, oldest first."""
    current = now.astimezone(ZoneInfo("UTC")).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def chart(
    counts: dict[datetime, int],
    now: datetime,
    zone: ZoneInfo,
    is_working: object = None,
) -> Chart:
    """Bars for the 48 hours ending now; `counts` maps an hour start to its deliveries.

    `is_working`, when given, is a callable telling whether an instant is within working hours
    (those hours are shaded so that a quiet night does not look like an outage)."""
    hours = hours_ending(now)
    normalized = {hour.astimezone(ZoneInfo("UTC")): n for hour, n in counts.items()}
    values = [normalized.get(hour, 0) for hour in hours]
    maximum = max(values) if values else 0
    scale = (PLOT_BOTTOM - PLOT_TOP) / maximum if maximum else 0.0
    bars = []
    ticks = []
    for i, (hour, count) in enumerate(zip(hours, values, strict=True)):
        local = hour.astimezone(zone)
        height = round(count * scale, 2)
        if count and height < 1.5:
            height = 1.5  # one delivery stays visible
        end = (hour + timedelta(hours=1)).astimezone(zone)
        label = (
            f"{WEEKDAYS_FR[local.weekday()]} {local:%d/%m} {local:%H}h–{end:%H}h : "
            f"{plural(count, 'livraison')}"
        )
        working = bool(is_working(hour + timedelta(minutes=30))) if callable(is_working) else False
        bars.append(
            Bar(
                hour=hour,
                count=count,
                x=round(i * SLOT + 1, 2),
                y=round(PLOT_BOTTOM - height, 2),
                width=round(SLOT - 2, 2),
                height=height,
                label=label,
                working=working,
            )
        )
        if local.hour % 6 == 0:
            text = (
                f"{WEEKDAYS_FR[local.weekday()]} {local:%d/%m}"
                if local.hour == 0
                else f"{local:%H}h"
            )
            ticks.append(Tick(x=round(i * SLOT, 2), text=text, midnight=local.hour == 0))
    return Chart(bars=bars, ticks=ticks, maximum=maximum, total=sum(values))
