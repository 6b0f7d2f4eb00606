"""The operators' alerts (docs/contract.md §6): when each is raised and cleared. Pure: the caller
gives the facts at an instant; `AlertBook.evaluate` answers the changes, each once.

An alert is raised once when its condition starts to hold and cleared once when it stops; while
it lasts, nothing is repeated. The conditions:

- `silence`: no delivery acknowledged for SILENCE_ALERT_AFTER of working time (WORKING_HOURS in
  WORKING_TIMEZONE): a silence that began Saturday at 19:00 counts one hour by Monday 06:00.
- `database_unavailable`: the database has been unavailable for ALERT_AFTER.
- `spool_backlog`: the oldest spooled delivery has waited for ALERT_AFTER.
- `stranded`: deliveries wait in the spool for another database (docs/contract.md §5).
- `quarantine_growing`: the quarantine grew within the last QUARANTINE_WINDOW.
- `signature_failures`: SIGNATURE_BURST or more 401 answers within SIGNATURE_BURST_WINDOW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from service.domain.working_hours import WorkingHours

AlertName = Literal[
    "silence",
    "database_unavailable",
    "spool_backlog",
    "stranded",
    "quarantine_growing",
    "signature_failures",
]
ALERT_NAMES: tuple[AlertName, ...] = (
    "silence",
    "database_unavailable",
    "spool_backlog",
    "stranded",
    "quarantine_growing",
    "signature_failures",
)
# What each alert is about, in the operators' words (the status page, the notifications).
TITLES: dict[AlertName, str] = {
    "silence": "TimeMoto n'appelle plus",
    "database_unavailable": "Base de données indisponible",
    "spool_backlog": "Livraisons en attente dans le spool",
    "stranded": "Livraisons bloquées pour une autre base",
    "quarantine_growing": "La quarantaine grossit",
    "signature_failures": "Signatures refusées en rafale",
}

DEFAULT_SILENCE_AFTER = timedelta(hours=2)
DEFAULT_ALERT_AFTER = timedelta(minutes=5)
SIGNATURE_BURST = 5
SIGNATURE_BURST_WINDOW = timedelta(minutes=10)
QUARANTINE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Thresholds:
    working_hours: WorkingHours
    silence_after: timedelta = DEFAULT_SILENCE_AFTER
    alert_after: timedelta = DEFAULT_ALERT_AFTER
    signature_burst: int = SIGNATURE_BURST
    signature_window: timedelta = SIGNATURE_BURST_WINDOW
    quarantine_window: timedelta = QUARANTINE_WINDOW


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known at `now`."""

    now: datetime
    watching_since: datetime  # silence counts from here while no delivery is known
    last_delivery: datetime | None
    database_up: bool
    database_down_since: datetime | None
    oldest_pending: datetime | None
    stranded: int
    quarantined: int | None  # None: not known now (the spool could not be read)
    signature_failures: int  # within the thresholds' signature window


@dataclass(frozen=True, slots=True)
class Change:
    """An alert raised or cleared, with what to say about it."""

    name: AlertName
    raised: bool
    at: datetime
    detail: str  # French, one sentence

    @property
    def title(self) -> str:
        return TITLES[self.name]

    @property
    def text(self) -> str:
        """The notification's text (what Slack, Mattermost and Teams show)."""
        if self.raised:
            return f"⚠️ Pointage TimeMoto — alerte : {self.title}. {self.detail}"
        return f"✅ Pointage TimeMoto — fin d'alerte : {self.title}. {self.detail}"


@dataclass(frozen=True, slots=True)
class Active:
    name: AlertName
    since: datetime
    detail: str

    @property
    def title(self) -> str:
        return TITLES[self.name]


def duration_fr(delta: timedelta | float) -> str:
    """`2 h 05`, `12 min`, `45 s`, `3 j 4 h`: a duration as the page and the texts write it."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} j {hours} h" if hours else f"{days} j"
    if hours:
        return f"{hours} h {minutes:02d}"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def at_fr(instant: datetime, hours: WorkingHours) -> str:
    return instant.astimezone(hours.zone).strftime("%d/%m/%Y à %H:%M")


@dataclass
class AlertBook:
    thresholds: Thresholds
    active: dict[AlertName, Active] = field(default_factory=dict)
    _quarantine_seen: int | None = None
    _quarantine_grew_at: datetime | None = None

    def evaluate(self, facts: Facts) -> list[Change]:
        """The alerts raised or cleared by these facts, in ALERT_NAMES order; each at most once."""
        conditions = self._conditions(facts)
        changes = []
        for name in ALERT_NAMES:
            holds, detail = conditions[name]
            current = self.active.get(name)
            if holds and current is None:
                self.active[name] = Active(name, facts.now, detail)
                changes.append(Change(name, True, facts.now, detail))
            elif holds and current is not None:
                self.active[name] = Active(name, current.since, detail)  # fresher words only
            elif not holds and current is not None:
                del self.active[name]
                lasted = duration_fr(facts.now - current.since)
                changes.append(Change(name, False, facts.now, f"{detail} (a duré {lasted})"))
        return changes

    def is_raised(self, name: AlertName) -> bool:
        return name in self.active

    def _conditions(self, facts: Facts) -> dict[AlertName, tuple[bool, str]]:
        t = self.thresholds
        hours = t.working_hours
        now = facts.now

        since = facts.last_delivery or facts.watching_since
        quiet = hours.seconds_between(since, now)
        if facts.last_delivery is None:
            silence_words = f"aucune livraison reçue depuis le {at_fr(since, hours)}"
        else:
            silence_words = f"dernière livraison le {at_fr(since, hours)}"
        silence = (
            quiet >= t.silence_after.total_seconds(),
            f"{silence_words}, soit {duration_fr(quiet)} en heures ouvrées "
            f"({hours.text}, seuil {duration_fr(t.silence_after)})",
        )

        down_for = (now - facts.database_down_since) if facts.database_down_since else None
        database = (
            not facts.database_up and down_for is not None and down_for >= t.alert_after,
            f"indisponible depuis {duration_fr(down_for)} (seuil {duration_fr(t.alert_after)}); "
            "les livraisons sont gardées dans le spool"
            if down_for is not None and not facts.database_up
            else "la base répond de nouveau",
        )

        waited = (now - facts.oldest_pending) if facts.oldest_pending else None
        backlog = (
            waited is not None and waited >= t.alert_after,
            f"la plus ancienne attend depuis {duration_fr(waited)} "
            f"(seuil {duration_fr(t.alert_after)})"
            if waited is not None
            else "le spool est vide",
        )

        stranded = (
            facts.stranded > 0,
            f"{facts.stranded} livraison(s) attendent une autre base de données: "
            "`python -m service spool retarget`"
            if facts.stranded
            else "plus aucune livraison bloquée",
        )

        if facts.quarantined is not None:
            if self._quarantine_seen is not None and facts.quarantined > self._quarantine_seen:
                self._quarantine_grew_at = now
            self._quarantine_seen = facts.quarantined
        grew_at = self._quarantine_grew_at
        quarantine = (
            grew_at is not None and now - grew_at < t.quarantine_window,
            f"{facts.quarantined} livraison(s) en quarantaine, la dernière arrivée le "
            f"{at_fr(grew_at, hours)}: `python -m service spool status`"
            if grew_at is not None and now - grew_at < t.quarantine_window
            else f"la quarantaine n'a pas grossi depuis {duration_fr(t.quarantine_window)}",
        )

        burst = facts.signature_failures >= t.signature_burst
        signatures = (
            burst,
            f"{facts.signature_failures} livraisons refusées (signature) en "
            f"{duration_fr(t.signature_window)}: vérifier le secret du webhook dans TimeMoto "
            "et TIMEMOTO_WEBHOOK_SECRET"
            if burst
            else f"moins de {t.signature_burst} signatures refusées en "
            f"{duration_fr(t.signature_window)}",
        )
        return {
            "silence": silence,
            "database_unavailable": database,
            "spool_backlog": backlog,
            "stranded": stranded,
            "quarantine_growing": quarantine,
            "signature_failures": signatures,
        }
