"""Deliveries spooled for another database than the one configured now ("stranded", after a
corrected DATABASE_URL): a spool only drains into the database it was written for, so they are
listed, and moved to this database only by the operator's decision (`spool retarget --yes`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.outbox.spool_file import SpoolFile


@dataclass(frozen=True, slots=True)
class Stranded:
    """Deliveries spooled for another database than this one."""

    database_label: str
    pending: int
    oldest: datetime | None = None
    database_key: str = ""


@dataclass(frozen=True, slots=True)
class Retargeted:
    """What `retarget` did for one other database."""

    database_label: str
    moved: int
    duplicates: int  # already waiting here under the same id: the stranded copy went


class StrandedDeliveries(SpoolFile):
    """The jobs on other databases' deliveries (a part of `Spool`)."""

    def stranded(self) -> list[Stranded]:
        """Deliveries waiting for another database, one entry per database."""
        rows = self._run(
            "SELECT database_key, database_label, count(*), min(received_at) FROM delivery"
            " WHERE database_key <> ? GROUP BY database_key, database_label"
            " ORDER BY database_label",
            self.database_key,
        )
        return [
            Stranded(str(label), int(str(n)), datetime.fromisoformat(str(oldest)), str(key))
            for key, label, n, oldest in rows
        ]

    def stranded_deliveries(self, limit: int) -> list[tuple[str, str, datetime]]:
        """(database label, event id, arrival) of the first stranded deliveries."""
        rows = self._run(
            "SELECT database_label, event_id, received_at FROM delivery WHERE database_key <> ?"
            " ORDER BY seq LIMIT ?",
            self.database_key,
            limit,
        )
        return [(str(a), str(b), datetime.fromisoformat(str(c))) for a, b, c in rows]

    def retarget(self) -> list[Retargeted]:
        """Every stranded delivery now waits for this database (the operator's decision).

        An id already waiting here is the same delivery: its stranded copy goes. One transaction.
        """
        stranded = self.stranded()

        def move() -> list[Retargeted]:
            done = []
            with self._transaction() as db:
                for other in stranded:
                    moved = db.execute(
                        "UPDATE OR IGNORE delivery SET database_key = ?, database_label = ?"
                        " WHERE database_key = ?",
                        (self.database_key, self.database_label, other.database_key),
                    ).rowcount
                    duplicates = db.execute(
                        "DELETE FROM delivery WHERE database_key = ?", (other.database_key,)
                    ).rowcount
                    done.append(Retargeted(other.database_label, moved, duplicates))
            return done

        done = self._draining(move)
        self._waiting = {
            str(event_id)
            for (event_id,) in self._run(
                "SELECT event_id FROM delivery WHERE database_key = ?", self.database_key
            )
        }
        return done
