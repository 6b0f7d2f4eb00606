"""The status page's headline (docs/contract.md §6): it never says all is well when it is not.

Green only when every fact is known and good: the database takes deliveries, none waits in the
local queue (the spool), none is stranded for another database, none went to the quarantine in the
last 24 hours, and no alert is raised. From the first failed probe it is orange, and says the
cause (§8, in French), since when, how many deliveries wait, that nothing is lost, and what to do;
red while an alert is raised. A fact that could not be read is unknown, never taken for good.
Pure: the caller gathers the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from service.domain.diagnosis import Cause, grants_for

Level = Literal["ok", "warn", "bad"]


@dataclass(frozen=True, slots=True)
class HeadlineFacts:
    database_up: bool | None  # None: not known yet (the first probe has not answered)
    database_since: datetime
    cause: str | None  # docs/contract.md §8's code while the database takes no deliveries
    cause_detail: str | None  # the cause in the server's or the network's words
    pending: int | None  # None: the spool could not be read
    oldest_pending: datetime | None
    stranded: int | None
    quarantined_24h: int | None
    alerts: tuple[str, ...] = ()  # titles of the alerts raised
    role: str = ""  # for the GRANTs a `privileges` cause prints
    schema: str = "public"


@dataclass(frozen=True, slots=True)
class Headline:
    level: Level
    title: str
    lines: list[str] = field(default_factory=list)  # what is wrong, each in a sentence
    actions: list[str] = field(default_factory=list)  # what to do

    @property
    def all_well(self) -> bool:
        return self.level == "ok"


ALL_WELL = "Tout fonctionne : la base enregistre les pointages, rien n'est en attente."


def typographie(text: str) -> str:
    """French typography: a no-break space before `:` and inside « », a narrow one before
    `;`, `!` and `?` (so that a line never begins with them)."""
    for plain, fixed in (
        (" :", "\u00a0:"),
        (" ;", "\u202f;"),
        (" !", "\u202f!"),
        (" ?", "\u202f?"),
        ("« ", "«\u00a0"),
        (" »", "\u00a0»"),
    ):
        text = text.replace(plain, fixed)
    return text


def headline(facts: HeadlineFacts, now: datetime, *, since_text: str = "") -> Headline:
    """The headline for these facts; `since_text` is how the page writes the database's
    `since` (e.g. « depuis 14:05, il y a 12 min »), given by the caller who knows the zone."""
    lines: list[str] = []
    actions: list[str] = []
    waiting = facts.pending or 0
    if facts.database_up is None:
        lines.append("La base de données n'a pas encore répondu : vérification en cours.")
    elif facts.database_up is False or facts.cause is not None:
        cause = _cause(facts.cause)
        lines.append(
            f"Base de données indisponible{f' {since_text}' if since_text else ''} : "
            f"{cause.advice.titre}."
        )
        if facts.cause_detail:
            lines.append(f"Détail : {facts.cause_detail}")
        actions.append(_action(cause, facts))
    if facts.pending is None:
        lines.append("La file d'attente locale ne peut pas être lue : état inconnu.")
        actions.append("Voir le journal du service (dossier SPOOL_DIR, place sur le disque).")
    elif waiting:
        lines.append(
            f"{_deliveries(waiting)} en attente dans la file d'attente locale : rien n'est "
            "perdu, elles seront écrites dans la base dès qu'elle les acceptera."
        )
    if facts.stranded is None or facts.quarantined_24h is None:
        if facts.pending is not None:
            lines.append("Une partie de la file d'attente locale n'a pas pu être lue.")
    else:
        if facts.stranded:
            lines.append(
                f"{_deliveries(facts.stranded)} bloquée{'s' if facts.stranded > 1 else ''} "
                "pour une autre base que celle de DATABASE_URL."
            )
            actions.append(
                "Si DATABASE_URL a été corrigé : « python -m service spool retarget » les liste, "
                "« python -m service spool retarget --yes » les écrit dans la base actuelle."
            )
        if facts.quarantined_24h:
            plural = "s" if facts.quarantined_24h > 1 else ""
            lines.append(
                f"{_deliveries(facts.quarantined_24h)} mise{plural} en quarantaine depuis 24 h "
                "(signées mais invalides)."
            )
            actions.append(
                "Lire la raison dans « python -m service spool status » ; une fois la cause "
                "corrigée, « python -m service spool requeue » les reprend."
            )
    if facts.alerts and lines:
        lines.insert(0, f"Alerte en cours : {', '.join(facts.alerts)}.")
    if not lines and not facts.alerts:
        return Headline("ok", typographie(ALL_WELL))
    level: Level = "bad" if facts.alerts else "warn"
    return Headline(
        level,
        typographie(_title(facts, waiting)),
        [typographie(line) for line in lines],
        [typographie(action) for action in actions],
    )


def _title(facts: HeadlineFacts, waiting: int) -> str:
    if facts.database_up is False or facts.cause is not None:
        base = f"Base de données indisponible : {_cause(facts.cause).advice.titre}"
    elif facts.database_up is None:
        base = "État de la base de données inconnu"
    elif facts.pending is None:
        base = "File d'attente locale illisible"
    elif facts.stranded:
        base = "Des livraisons sont bloquées pour une autre base"
    elif waiting:
        base = "Des livraisons attendent d'être écrites"
    elif facts.quarantined_24h:
        base = "Des livraisons ont été mises en quarantaine"
    else:
        plural = "s" if len(facts.alerts) > 1 else ""
        base = f"Alerte{plural} en cours : {', '.join(facts.alerts)}"
    if waiting and base != "Des livraisons attendent d'être écrites":
        base += f" — {_deliveries(waiting)} en attente, rien n'est perdu"
    return base


def _cause(code: str | None) -> Cause:
    try:
        return Cause(code) if code else Cause.OTHER
    except ValueError:
        return Cause.OTHER


def _action(cause: Cause, facts: HeadlineFacts) -> str:
    todo = cause.advice.a_faire.format(grants=grants_for(facts.role or "pointage", facts.schema))
    return f"À faire : {todo}."


def _deliveries(count: int) -> str:
    return f"{count} livraison{'s' if count > 1 else ''}"
