"""The pointage schema: applying `sql/schema_pointage.sql` and checking that every object exists."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Literal

import asyncpg
import msgspec

from service.db.engine import DatabaseTarget
from service.db.errors import DatabaseProblem, classify
from service.domain.diagnosis import Cause, grants_for

# Shipped in the package (a non-editable install applies it too); sql/schema_pointage.sql, the
# path a DBA knows, is a link to it.
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "sql" / "schema_pointage.sql"

# The objects of docs/contract.md §4, in the order the verifier lists them, with the clockings'
# table (the trigger is on it) and our exact figures beside the ERP's layout (§10).
FUNCTION_NAME = "pointage_maj_resume"
TRIGGER_NAME = "pointage_maj_resume_trg"
# Not in the contract's list: the service's batch insert calls it (db/repositories.py), so a
# schema applied by hand before it existed is reported missing, and applied again when allowed.
CORRECTION_CHECK_NAME = "pointage_correction_en_attente"

ObjectKind = Literal["table", "column", "function", "trigger", "view"]
EXPECTED_OBJECTS: tuple[tuple[str, ObjectKind], ...] = (
    ("pointage", "table"),
    ("pointage_resume", "table"),
    ("pointage_horodatage", "table"),
    ("pointage_resume_mensuel", "table"),
    ("equipe.timemoto_user_id", "column"),
    ("equipe.temps_travaille_mois", "column"),
    ("equipe.minutes_travaillees_mois", "column"),
    (FUNCTION_NAME, "function"),
    (TRIGGER_NAME, "trigger"),
    ("v_pointage_detail", "view"),
    (CORRECTION_CHECK_NAME, "function"),
)

# One round trip: a boolean per expected object, resolved through the search_path as the ERP does.
# The ERP's pointage counts only in its layout (user_id): the clockings' earlier one, still to be
# upgraded, is reported missing.
_CHECK_SQL = """
SELECT
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('pointage')
          AND attname = 'user_id' AND NOT attisdropped),
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('pointage_resume')
          AND attname = 'user_id' AND NOT attisdropped),
  EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('pointage_horodatage')
          AND relkind IN ('r', 'p')),
  EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('pointage_resume_mensuel')
          AND relkind IN ('r', 'p')),
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('equipe')
          AND attname = 'timemoto_user_id' AND NOT attisdropped),
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('equipe')
          AND attname = 'temps_travaille_mois' AND NOT attisdropped),
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('equipe')
          AND attname = 'minutes_travaillees_mois' AND NOT attisdropped),
  to_regprocedure($1 || '()') IS NOT NULL,
  EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('pointage_horodatage')
          AND tgname = $2),
  EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('v_pointage_detail') AND relkind = 'v'),
  to_regprocedure($3 || '(text)') IS NOT NULL,
  current_user::text,
  coalesce(current_schema(), 'public'),
  coalesce(has_schema_privilege(coalesce(current_schema(), 'public'), 'CREATE'), false)
"""


# Could a write pass? Not on a standby, or a database set read-only (they answer reads), nor
# for a role that may not insert clockings (without this, a probe would find all well while each
# write failed: the drain would try again at once, again and again).
_WRITABLE_SQL = """
SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on',
       coalesce((SELECT has_table_privilege(c.oid, 'INSERT') FROM pg_class c
                  WHERE c.oid = to_regclass('pointage_horodatage')), true)
"""


class SchemaObject(msgspec.Struct):
    name: str
    kind: ObjectKind
    exists: bool | None  # None: unknown, the database could not be asked


class DatabaseHealth(msgspec.Struct):
    reachable: bool
    latency_ms: float | None
    error: str | None  # the cause in words an operator acts on; None when all is well
    cause: str | None = None  # its code (docs/contract.md §8)


class SchemaReport(msgspec.Struct):
    """What the verifier answers (docs/contract.md §4), less the spool, which the caller adds."""

    database: DatabaseHealth
    objects: list[SchemaObject]
    problem: DatabaseProblem | None = None  # why the database could not be asked
    read_only: bool = False  # it answers, but takes no writes (a standby, a read-only database)
    insert_denied: bool = False  # the role may not insert clockings
    role: str = ""  # who we are there, and where objects go: for the GRANTs to print
    schema: str = "public"

    @property
    def outage(self) -> DatabaseProblem | None:
        """Why deliveries cannot be written now, as the breaker sees it; None when they can."""
        if self.problem is not None:
            return self.problem
        if self.read_only:
            return DatabaseProblem(Cause.READ_ONLY, Cause.READ_ONLY.advice.meaning)
        if self.insert_denied:
            return DatabaseProblem(Cause.PRIVILEGES, self.database.error or "permission denied")
        if self.missing:
            return DatabaseProblem(
                Cause.SCHEMA_MISSING, f"schema missing: {', '.join(self.missing)}"
            )
        return None

    @property
    def missing(self) -> list[str]:
        """Objects known to be absent (none while the database cannot be asked)."""
        return [obj.name for obj in self.objects if obj.exists is False]

    @property
    def ok(self) -> bool:
        return (
            self.database.reachable
            and not self.missing
            and not self.read_only
            and not self.insert_denied
        )


def schema_sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


async def apply_schema(target: DatabaseTarget) -> str:
    """Run the SQL file; it is idempotent and wraps itself in one transaction. Returns its one
    line saying what it did (created, upgraded from which layout, or nothing to do), which the
    file leaves in the session's setting pointage.schema_applique (and as a NOTICE)."""
    connection = await target.connect()
    try:
        await connection.execute(schema_sql())
        line = await connection.fetchval("SELECT current_setting('pointage.schema_applique', true)")
    finally:
        await connection.close()
    return str(line or "applied")


async def check_schema(target: DatabaseTarget) -> SchemaReport:
    """Reachability and the presence of each object, within the connect timeout at the most."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(target.connect_deadline):
            connection = await target.connect()
            try:
                row = await connection.fetchrow(
                    _CHECK_SQL, FUNCTION_NAME, TRIGGER_NAME, CORRECTION_CHECK_NAME
                )
                writable = await connection.fetchrow(_WRITABLE_SQL)
            finally:
                await connection.close(timeout=target.connect_timeout)
    except (
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.TargetServerAttributeNotMatched,  # no host suits target_session_attrs: read_only
    ) as exc:
        problem = await refine_tls_required(target, classify(exc))
        return SchemaReport(
            database=DatabaseHealth(
                reachable=False, latency_ms=None, error=problem.sentence, cause=problem.code
            ),
            objects=[SchemaObject(name, kind, exists=None) for name, kind in EXPECTED_OBJECTS],
            problem=problem,
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    assert row is not None
    found, (user, schema, can_create) = row[: len(EXPECTED_OBJECTS)], row[len(EXPECTED_OBJECTS) :]
    objects = [
        SchemaObject(name, kind, exists=bool(exists))
        for (name, kind), exists in zip(EXPECTED_OBJECTS, found, strict=True)
    ]
    health = DatabaseHealth(reachable=True, latency_ms=latency_ms, error=None)
    assert writable is not None
    read_only, insert_denied = bool(writable[0]), not writable[1]
    if read_only:
        health = DatabaseHealth(True, latency_ms, Cause.READ_ONLY.advice.meaning, "read_only")
    elif insert_denied:
        health = DatabaseHealth(
            True,
            latency_ms,
            f"permission denied: role {user} may not insert into pointage_horodatage; to run as "
            f"the schema's owner: {grants_for(user, schema)}",
            Cause.PRIVILEGES.value,
        )
    elif not all(found) and not can_create:
        health = DatabaseHealth(
            True,
            latency_ms,
            f"permission denied while applying the schema: role {user} may not create objects "
            f"in schema {schema}, and objects are missing; to run as the schema's owner: "
            f"{grants_for(user, schema)}",
            Cause.PRIVILEGES.value,
        )
    elif not all(found):
        missing = [
            name for (name, _), exists in zip(EXPECTED_OBJECTS, found, strict=True) if not exists
        ]
        health = DatabaseHealth(
            True, latency_ms, f"schema missing: {', '.join(missing)}", Cause.SCHEMA_MISSING.value
        )
    return SchemaReport(
        database=health,
        objects=objects,
        read_only=read_only,
        insert_denied=insert_denied,
        role=str(user),
        schema=str(schema),
    )


async def refine_tls_required(target: DatabaseTarget, problem: DatabaseProblem) -> DatabaseProblem:
    """A plain connection refused by pg_hba.conf: over TLS, would it pass? If the server offers
    no TLS or refuses that too, this host is simply not allowed (not a TLS matter)."""
    if problem.cause is not Cause.TLS_REQUIRED:
        return problem
    try:
        async with asyncio.timeout(target.connect_deadline):
            connection = await target.connect(require_tls=True)
            await connection.close(timeout=target.connect_timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        over_tls = classify(exc).cause
        if over_tls in (Cause.TLS_UNAVAILABLE, Cause.NOT_ALLOWED, Cause.TLS_REQUIRED):
            return DatabaseProblem(
                Cause.NOT_ALLOWED,
                problem.sentence.replace(
                    Cause.TLS_REQUIRED.advice.meaning, Cause.NOT_ALLOWED.advice.meaning
                ),
            )
    return problem
