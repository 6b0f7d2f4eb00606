"""What went wrong with the database: one of docs/contract.md §8's causes, or the delivery's own
content, and a sentence people read.

Every database failure is classified here once: the log, the verifier, `/ready`, `/metrics`, the
status page and `doctor` all render the same `DatabaseProblem`, never match prose. What the cause
means and what to do is service/domain/diagnosis.py's to say.

Only what PostgreSQL refuses for the row itself (SQLSTATE classes 22 and 23, or an error the
schema's own trigger raises about it) is the delivery's fault: it goes to the quarantine. Anything
else (a read-only transaction, a missing column, a permission) is a cause: the delivery waits in
the spool until the cause clears.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from dataclasses import dataclass

import asyncpg
import sqlalchemy.exc

from service.domain.diagnosis import Cause

__all__ = [
    "Cause",
    "DatabaseProblem",
    "DatabaseUnavailable",
    "DeliveryRefused",
    "classify",
    "root_error",
]


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    cause: Cause | None  # None: PostgreSQL refused the delivery's own row (not a cause of §8)
    sentence: str  # one plain sentence, never with a password or a URL
    unexpected: bool = False  # not the database's word (a bug of ours, say): log its traceback

    @property
    def is_outage(self) -> bool:
        """The database cannot take deliveries now (they wait in the spool)."""
        return self.cause is not None

    @property
    def code(self) -> str | None:
        """The §8 code (`timeout`, `read_only`, …); None for a refused row."""
        return self.cause.value if self.cause else None

    def __str__(self) -> str:
        return self.sentence


# SQLSTATEs and classes of §8's causes; the most specific prefix wins.
_SQLSTATE_CAUSES: dict[str, Cause] = {
    "08": Cause.CONNECTION_LOST,  # connection exception
    "28": Cause.AUTH,  # invalid authorization (refined below by the message)
    "28P01": Cause.AUTH,
    "3D000": Cause.DATABASE_MISSING,
    "42501": Cause.PRIVILEGES,
    "42P01": Cause.SCHEMA_MISSING,  # undefined table
    "42703": Cause.SCHEMA_MISSING,  # undefined column
    "42883": Cause.SCHEMA_MISSING,  # undefined function (the trigger's)
    "25006": Cause.READ_ONLY,  # read-only SQL transaction: a standby, a read-only database
    "53300": Cause.TOO_MANY_CONNECTIONS,
    "53100": Cause.SERVER_DISK_FULL,
    "53": Cause.SERVER_UNAVAILABLE,  # out of memory, other resources
    "57P": Cause.SERVER_UNAVAILABLE,  # shutting down, starting up, in recovery
    "57014": Cause.TIMEOUT,  # statement timeout
}
# The delivery's own row: data exceptions, integrity constraints, and what the schema's trigger
# raises about the row (RAISE EXCEPTION: P0001).
_CONTENT_SQLSTATES = ("22", "23", "P0001")


def _sqlstate_cause(sqlstate: str, message: str) -> Cause | None:
    if sqlstate.startswith(_CONTENT_SQLSTATES):
        return None
    if sqlstate.startswith("28"):
        return _authorization_cause(message) or Cause.AUTH
    for prefix in (sqlstate, sqlstate[:3], sqlstate[:2]):
        if prefix in _SQLSTATE_CAUSES:
            return _SQLSTATE_CAUSES[prefix]
    return Cause.OTHER  # not the row's fault: it waits, and the message is shown


def _authorization_cause(message: str) -> Cause | None:
    """pg_hba.conf's refusals and a missing role share SQLSTATE 28000; the message tells them
    apart (the server's own words, stable across versions)."""
    if "does not exist" in message and "role" in message:
        return Cause.ROLE_MISSING
    if "pg_hba.conf" in message:
        # "… no encryption": refused over a plain connection; over TLS it may pass (a server that
        # takes TLS only), or not (this host is simply not allowed): check_schema asks again
        # over TLS to tell them apart.
        if "no encryption" in message:
            return Cause.TLS_REQUIRED
        return Cause.NOT_ALLOWED
    return None


def root_error(exc: BaseException) -> BaseException:
    """The driver's or the system's own error under SQLAlchemy's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen and not isinstance(exc, asyncpg.PostgresError):
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        # asyncio.timeout() raises TimeoutError from the CancelledError it caused: stop there.
        if not isinstance(inner, BaseException) or isinstance(inner, asyncio.CancelledError):
            break
        exc = inner
    return exc


def _problem(cause: Cause, detail: str | None = None) -> DatabaseProblem:
    meaning = cause.advice.meaning
    return DatabaseProblem(cause, f"{meaning}: {detail}" if detail else meaning)


def classify(exc: BaseException) -> DatabaseProblem:
    """The cause of a database failure (or the row's refusal) and its sentence."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return DatabaseProblem(
            Cause.OTHER, "no pooled database connection came free in time (DB_POOL_TIMEOUT)"
        )
    root = root_error(exc)
    if isinstance(root, asyncpg.PostgresError):
        sqlstate = root.sqlstate or ""
        message = str(root.args[0]) if root.args else type(root).__name__
        cause = _sqlstate_cause(sqlstate, message)
        if cause is None:
            return DatabaseProblem(None, f"PostgreSQL refuses the row ({sqlstate}): {message}")
        return _problem(cause, f"{message} ({sqlstate})")
    if isinstance(root, asyncpg.TargetServerAttributeNotMatched):
        return _problem(Cause.READ_ONLY, "no listed host is a writable primary")
    return _network(root)


def _network(root: BaseException) -> DatabaseProblem:
    """What the network, TLS or the driver said (no SQLSTATE)."""
    if isinstance(root, TimeoutError):
        return _problem(Cause.TIMEOUT)
    if isinstance(root, socket.gaierror):
        return _problem(Cause.DNS)
    if isinstance(root, ssl.SSLCertVerificationError):
        return _problem(
            Cause.TLS_CERTIFICATE, f"certificate verify failed: {root.verify_message or root}"
        )
    if isinstance(root, ssl.SSLError):
        return _problem(Cause.TLS_CERTIFICATE, root.reason or str(root))
    if isinstance(root, ConnectionRefusedError) or (
        isinstance(root, OSError) and root.errno == errno.ECONNREFUSED
    ):
        return _problem(Cause.REFUSED)
    if isinstance(root, ConnectionError) and "rejected SSL upgrade" in str(root):
        return _problem(Cause.TLS_UNAVAILABLE)
    if isinstance(root, OSError) and "Multiple exceptions" in str(root):
        # Every address of the host failed to connect: refused if any said so.
        refused = "Connect call failed" in str(root) or "refused" in str(root).lower()
        return _problem(Cause.REFUSED if refused else Cause.CONNECTION_LOST, str(root)[:200])
    if isinstance(root, ConnectionError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return _problem(Cause.CONNECTION_LOST)  # reset, broken pipe, closed: however it is worded
    if isinstance(root, OSError):
        return _problem(Cause.OTHER, f"network error: {root.strerror or type(root).__name__}")
    # Anything else is not the database refusing this delivery (the intake has checked what it
    # holds): the delivery is kept, not refused, and the caller logs it.
    return DatabaseProblem(Cause.OTHER, f"{type(root).__name__}: {root}"[:200], unexpected=True)


class DatabaseUnavailable(Exception):
    """The database cannot take a delivery now: spool it, tell the recovery."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.sentence)
        self.problem = problem


class DeliveryRefused(Exception):
    """The database refused this one delivery for its content."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.sentence)
        self.problem = problem
