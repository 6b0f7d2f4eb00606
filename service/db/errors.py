"""What went wrong with the database, as a kind the code can branch on and a sentence people read.

Every database failure is classified here once: the log, the verifier, `/ready` and the advice
given to the operator all render the same `DatabaseProblem`, never match prose.
"""

from __future__ import annotations

import asyncio
import enum
import socket
from dataclasses import dataclass

import asyncpg
import sqlalchemy.exc


class Outage(enum.Enum):
    """Why the database cannot take deliveries now, or `CONTENT`: it refused one delivery for
    what it holds, and the others are not concerned (errors are classified per delivery)."""

    TIMEOUT = "timeout"
    REFUSED = "refused"
    NETWORK = "network"  # connection lost or broken
    AUTHENTICATION = "authentication"
    NO_SUCH_DATABASE = "no_such_database"
    PERMISSION_DENIED = "permission_denied"
    SCHEMA_MISSING = "schema_missing"
    POOL_EXHAUSTED = "pool_exhausted"
    UNAVAILABLE = "unavailable"  # too many connections, shutting down, out of disk or memory
    TRANSIENT = "transient"  # deadlock, serialization failure: the same write may pass again
    READ_ONLY = "read_only"  # a standby (after a failover), a database set read-only
    UNEXPECTED = "unexpected"  # not the database's word: our own bug, say; nothing is refused
    CONTENT = "content"

    @property
    def is_outage(self) -> bool:
        return self is not Outage.CONTENT

    @property
    def todo(self) -> str:
        """What an operator does about it (`{where}` is the database's label)."""
        if self is Outage.SCHEMA_MISSING:
            return "apply the schema with `python -m service db apply`"
        if self is Outage.PERMISSION_DENIED:
            return (
                "grant the service's role the rights it needs (deploy/README.md): to apply the "
                "schema, CREATE on it (GRANT CREATE ON SCHEMA public TO that role), or have the "
                "owner apply sql/schema_pointage.sql (`python -m service db apply` with the "
                "owner's DATABASE_URL)"
            )
        if self is Outage.READ_ONLY:
            return (
                "point DATABASE_URL at the primary (or list every host with "
                "target_session_attrs=read-write)"
            )
        if self in (Outage.AUTHENTICATION, Outage.NO_SUCH_DATABASE):
            return "fix DATABASE_URL"
        return "check network access from this host to {where} and that PostgreSQL is up"


# SQLSTATE classes and codes that say the database (not the delivery) is the problem.
_OUTAGE_SQLSTATES: dict[str, Outage] = {
    "08": Outage.NETWORK,  # connection exception
    "28": Outage.AUTHENTICATION,  # invalid authorization
    "25006": Outage.READ_ONLY,  # read-only SQL transaction: a standby, a read-only database
    "3D000": Outage.NO_SUCH_DATABASE,
    "42501": Outage.PERMISSION_DENIED,
    "42P01": Outage.SCHEMA_MISSING,  # undefined table
    "42703": Outage.SCHEMA_MISSING,  # undefined column
    "42883": Outage.SCHEMA_MISSING,  # undefined function (the trigger's)
    "53": Outage.UNAVAILABLE,  # insufficient resources: too many connections, disk, memory
    "57P": Outage.UNAVAILABLE,  # shutting down, starting up
    "57014": Outage.TIMEOUT,  # statement timeout
    "40": Outage.TRANSIENT,  # serialization failure, deadlock
    "55P03": Outage.TRANSIENT,  # lock not available
}


def _sqlstate_kind(sqlstate: str) -> Outage:
    for prefix in (sqlstate, sqlstate[:3], sqlstate[:2]):
        if prefix in _OUTAGE_SQLSTATES:
            return _OUTAGE_SQLSTATES[prefix]
    return Outage.CONTENT  # data, integrity, program limits (an 8 KB id), ...


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    kind: Outage
    sentence: str  # one plain sentence, never with a password or a URL

    def __str__(self) -> str:
        return self.sentence


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


def classify(exc: BaseException) -> DatabaseProblem:
    """The kind of a database failure and its sentence."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return DatabaseProblem(
            Outage.POOL_EXHAUSTED,
            "no pooled database connection came free in time (DB_POOL_TIMEOUT)",
        )
    root = root_error(exc)
    if isinstance(root, TimeoutError):
        return DatabaseProblem(
            Outage.TIMEOUT, "the database did not answer in time (connection timeout)"
        )
    if isinstance(root, ConnectionRefusedError):
        return DatabaseProblem(
            Outage.REFUSED,
            "connection refused: is PostgreSQL running and reachable from this host?",
        )
    if isinstance(
        root, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return DatabaseProblem(
            Outage.AUTHENTICATION,
            "authentication failed: check the user and password in DATABASE_URL",
        )
    if isinstance(root, asyncpg.InvalidCatalogNameError):
        return DatabaseProblem(
            Outage.NO_SUCH_DATABASE, "the database named in DATABASE_URL does not exist"
        )
    if isinstance(root, asyncpg.InsufficientPrivilegeError):
        message = root.args[0] if root.args else "insufficient privilege"
        return DatabaseProblem(Outage.PERMISSION_DENIED, f"permission denied: {message}")
    if isinstance(root, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError):
        return DatabaseProblem(
            Outage.SCHEMA_MISSING,
            "the pointage tables are missing: apply sql/schema_pointage.sql",
        )
    if isinstance(root, asyncpg.TargetServerAttributeNotMatched):
        return DatabaseProblem(
            Outage.READ_ONLY,
            "no host in DATABASE_URL accepts writes now (a standby, or a read-only database)",
        )
    if isinstance(root, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return DatabaseProblem(Outage.NETWORK, f"the database connection broke: {root}")
    if isinstance(root, asyncpg.PostgresError):
        sqlstate = root.sqlstate or ""
        message = root.args[0] if root.args else type(root).__name__
        return DatabaseProblem(_sqlstate_kind(sqlstate), f"PostgreSQL error {sqlstate}: {message}")
    if isinstance(root, socket.gaierror):
        return DatabaseProblem(
            Outage.NETWORK, "host not found: the host name in DATABASE_URL does not resolve"
        )
    if isinstance(root, OSError):
        return DatabaseProblem(
            Outage.NETWORK, f"network error: {root.strerror or type(root).__name__}"
        )
    # Anything else is not the database refusing this delivery (the intake has checked what it
    # holds): the delivery is kept, not refused, and the caller logs it.
    return DatabaseProblem(Outage.UNEXPECTED, f"{type(root).__name__}: {root}"[:200])


class DatabaseUnavailable(Exception):
    """The database cannot take a delivery now: spool it, open the breaker."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.sentence)
        self.problem = problem


class DeliveryRefused(Exception):
    """The database refused this one delivery for its content."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.sentence)
        self.problem = problem
