"""`python -m service doctor`: docs/contract.md §8's checks, in order, each a line with ✓ or ✗
(and for a failure its cause code, what it means and what to do). A DBA's first command: it
needs no running service, and it changes nothing (the trigger's test is rolled back).

Order: the settings, the host name, the TCP connection, TLS, authentication, the database, write
access, the schema's objects, the trigger, the spool folder, the webhook secret. Once a step
fails, the steps that need it are not run (said so); the exit status is 0 only when all pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from service.db import diagnosis
from service.db.engine import DatabaseTarget
from service.db.errors import DatabaseProblem, classify
from service.db.schema import check_schema, refine_tls_required
from service.domain.diagnosis import Cause, grants_for
from service.outbox.spool import SpoolError, check_spool_dir
from service.outbox.spool_file import RESERVE_BYTES
from service.settings import Settings

DRIVER_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.TargetServerAttributeNotMatched,
)
# The steps one connection answers, and the causes that stop at each.
_CONNECTION_STEPS = (
    ("TLS", {Cause.TLS_REQUIRED, Cause.TLS_UNAVAILABLE, Cause.TLS_CERTIFICATE}),
    ("authentication", {Cause.NOT_ALLOWED, Cause.AUTH, Cause.ROLE_MISSING}),
    ("the database", {Cause.DATABASE_MISSING}),
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: not run, a step it needs failed
    detail: str
    cause: str | None = None
    todo: str | None = None

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "·"}[self.ok]
        text = f"{mark} {self.name}: {self.detail}"
        if self.cause:
            text += f" [{self.cause}]"
        if self.todo:
            text += f" — to do: {self.todo}"
        return text


def _failed(name: str, problem: DatabaseProblem, role: str = "", schema: str = "public") -> Check:
    cause = problem.cause or Cause.OTHER
    todo = cause.advice.todo.format(grants=grants_for(role or "the service's role", schema))
    return Check(name, False, problem.sentence, cause.value, todo)


async def doctor(settings: Settings, target: DatabaseTarget) -> AsyncIterator[Check]:
    """The checks, in order, as each is done."""
    yield Check("settings", True, f"DATABASE_URL names {target.label}")
    reached = True
    for host, port in zip(target.url.hosts, target.url.ports, strict=True):
        where = f"{host or 'the local socket'}:{port or diagnosis.DEFAULT_PORT}"
        try:
            addresses = await diagnosis.resolve(host)
        except OSError as exc:
            reached = False
            yield _failed(f"host name {host}", classify(exc))
            yield Check(f"TCP connection to {where}", None, "not checked: no address")
            continue
        yield Check(f"host name {host or 'socket'}", True, f"resolves to {', '.join(addresses)}")
        try:
            await diagnosis.reach(host, port, target.connect_timeout)
        except DRIVER_ERRORS as exc:
            reached = False
            yield _failed(f"TCP connection to {where}", classify(exc))
            continue
        yield Check(f"TCP connection to {where}", True, "open")
    async for check in _database(target, reached):
        yield check
    yield _spool(settings)
    secrets = len(settings.webhook_secrets)
    yield (
        Check("webhook secret", True, f"{secrets} secret{'s' if secrets > 1 else ''} set")
        if secrets
        else Check(
            "webhook secret",
            False,
            "TIMEMOTO_WEBHOOK_SECRET is not set",
            todo="set it to the secret of the webhook in TimeMoto",
        )
    )


async def _database(target: DatabaseTarget, reached: bool) -> AsyncIterator[Check]:
    steps = [name for name, _ in _CONNECTION_STEPS] + ["write access", "schema", "trigger"]
    if not reached:
        for name in steps:
            yield Check(name, None, "not checked: the server could not be reached")
        return
    try:
        encrypted, role, database = await diagnosis.session(target)
    except DRIVER_ERRORS as exc:
        problem = await refine_tls_required(target, classify(exc))
        failed_at = next(
            (name for name, causes in _CONNECTION_STEPS if problem.cause in causes), "TLS"
        )
        for name in steps:
            if name == failed_at:
                yield _failed(name, problem)
            elif steps.index(name) < steps.index(failed_at):
                yield Check(name, True, "passed")
            else:
                yield Check(name, None, f"not checked: {failed_at} failed")
        return
    mode = target.url.sslmode or "prefer"
    yield Check("TLS", True, f"{'encrypted' if encrypted else 'not encrypted'} (sslmode={mode})")
    yield Check("authentication", True, f"signed in as {role}")
    yield Check("the database", True, f"{database} is there")
    report = await check_schema(target)
    health = report.database
    if report.problem is not None:
        yield _failed("write access", report.problem)
        return
    if report.read_only or report.insert_denied:
        outage = report.outage
        assert outage is not None
        yield _failed("write access", outage, report.role, report.schema)
        yield Check("schema", None, "not checked: no write access")
        yield Check("trigger", None, "not checked: no write access")
        return
    yield Check("write access", True, "the server takes writes, the role may insert clockings")
    if report.missing:
        cause = Cause(health.cause) if health.cause else Cause.SCHEMA_MISSING
        yield _failed(
            "schema",
            DatabaseProblem(cause, health.error or f"missing: {', '.join(report.missing)}"),
            report.role,
            report.schema,
        )
        yield Check("trigger", None, "not checked: the schema is incomplete")
        return
    yield Check("schema", True, f"all {len(report.objects)} objects in place")
    try:
        counted = await diagnosis.trigger_follows(target)
    except DRIVER_ERRORS as exc:
        yield _failed("trigger", classify(exc), report.role, report.schema)
        return
    if counted == 1:
        yield Check(
            "trigger", True, "a punch written and rolled back: its month's summary followed"
        )
    else:
        yield Check(
            "trigger",
            False,
            f"a punch written, yet its month's summary counts {counted}",
            Cause.SCHEMA_MISSING.value,
            Cause.SCHEMA_MISSING.advice.todo,
        )


def _spool(settings: Settings) -> Check:
    folder = settings.spool_dir
    try:
        check_spool_dir(folder)
    except SpoolError as exc:
        return Check("spool folder", False, str(exc), todo="give the service a writable SPOOL_DIR")
    free = shutil.disk_usage(folder).free
    if free < 4 * RESERVE_BYTES:
        return Check(
            "spool folder",
            False,
            f"{folder}: only {free // 1024} KiB free",
            todo="free space on that filesystem, or point SPOOL_DIR elsewhere",
        )
    others = "" if (os.stat(folder).st_mode & 0o077) == 0 else ", readable by others"
    return Check("spool folder", True, f"{folder}: writable, {free / 2**30:.1f} GiB free{others}")


async def run(settings: Settings, target: DatabaseTarget, write: object) -> bool:
    """Print each check as it is done (`write` takes a line); whether all passed."""
    assert callable(write)
    passed = True
    async for check in doctor(settings, target):
        write(check.line())
        passed = passed and check.ok is True
    return passed
