"""`spool requeue`: quarantined deliveries validated again (the parser may have changed since)."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.delivery import InvalidDelivery, NotJson, parse_body
from service.outbox.spool import Spool


@dataclass(frozen=True, slots=True)
class Requeued:
    released: int
    kept: list[tuple[str | None, str]]  # (event id, why it is still invalid)


def requeue_quarantine(spool: Spool) -> Requeued:
    """The valid ones go back to the spool, to be written like any other; the others stay, with
    the reason."""
    released, kept = 0, []
    for item in spool.quarantined_deliveries():
        try:
            delivery = parse_body(item.body)
        except (NotJson, InvalidDelivery) as exc:
            kept.append((item.event_id, str(exc)))
            continue
        spool.release(item, delivery.event_id)
        released += 1
    return Requeued(released, kept)
