"""`python -m service`: serve, apply or verify the schema, look at or drain the spool, export a
month for payroll, reconcile with TimeMoto's export.

Each command imports what it runs when it runs: the parser and the settings load in a tenth of a
second, so a mistake is answered at once; SQLAlchemy, Litestar and openpyxl take over a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from service.db.embedded import EmbeddedError
from service.db.url import check_database_url
from service.outbox.spool import SPOOL_FILE, Spool, SpoolError, check_spool_dir
from service.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from service.db.engine import DatabaseTarget
    from service.domain.payroll import Month, Payroll
    from service.outbox.requeue import Requeued
    from service.recovery.drainer import DrainResult


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The supervisor (service/server/supervisor.py): holds the socket (systemd's, or HOST:PORT),
    runs the application in a worker, reloads on SIGHUP without refusing a connection."""
    from service.logs import configure_logging, secrets_of
    from service.server.supervisor import ServeError, Supervisor, bound_socket, inherited_socket

    settings.require_secret()  # one line now rather than a traceback from the factory
    check_spool_dir(settings.spool_dir)
    configure_logging(
        settings.log_level,
        settings.log_format,
        secrets_of(settings.webhook_secrets, settings.database_url),
    )
    try:
        sock = inherited_socket() or bound_socket(
            args.host or settings.host, args.port or settings.port
        )
    except ServeError as exc:
        print(f"timemoto-pointage: {exc}", file=sys.stderr)
        return 2
    return Supervisor(sock, ["--log-level", settings.log_level.lower()]).run()


def db_apply(settings: Settings, _: argparse.Namespace) -> int:
    from service.db.errors import classify
    from service.db.schema import apply_schema
    from service.runtime import database_target

    target = database_target(settings)
    try:
        done = asyncio.run(apply_schema(target))
    except Exception as exc:  # noqa: BLE001 - a CLI says what failed in one line
        print(f"schema not applied to {target.label}: {classify(exc)}", file=sys.stderr)
        return 1
    print(f"schema applied to {target.label}: {done}")
    return 0


def db_verify(settings: Settings, _: argparse.Namespace) -> int:
    """The endpoint's JSON, not its server."""
    import msgspec

    from service.operations.verification import Verification
    from service.runtime import database_target, open_spool

    target = database_target(settings)
    spool = None
    if (settings.spool_dir / SPOOL_FILE).exists():  # no spool yet: nothing waits, none is made
        spool = open_spool(settings, target)
    try:
        answer = asyncio.run(Verification(target, spool).verifier())
    finally:
        if spool is not None:
            spool.close()
    print(msgspec.json.format(msgspec.json.encode(answer)).decode())
    return 0 if answer.ok else 1


def doctor(settings: Settings, _: argparse.Namespace) -> int:
    """docs/contract.md §8's checks, one line each; exit 0 only when all pass."""
    from service.operations.doctor import run
    from service.runtime import database_target

    try:
        target = database_target(settings)
    except (ConfigurationError, EmbeddedError) as exc:
        print(f"✗ settings: {exc}")
        return 1
    return 0 if asyncio.run(run(settings, target, print)) else 1


# -- spool ---------------------------------------------------------------------------------------


def _spool(settings: Settings) -> tuple[DatabaseTarget, Spool]:
    from service.runtime import database_target, open_spool

    target = database_target(settings)
    return target, open_spool(settings, target)


def spool_status(settings: Settings, _: argparse.Namespace) -> int:
    from service.db.schema import check_schema

    target, spool = _spool(settings)
    try:
        status = spool.status()
    finally:
        spool.close()
    report = asyncio.run(check_schema(target))
    now = report.outage.sentence if report.outage else "available, pointage schema in place"
    print(f"spool: {spool.path}")
    print(f"database: {target.label}")
    print(f"database now: {now}")
    print(f"pending: {status.pending}")
    print(f"oldest: {status.oldest.isoformat() if status.oldest else '-'}")
    print(f"last error: {status.last_error or (now if report.outage else '-')}")
    print(
        f"quarantine: {status.quarantined} ({status.quarantine_bytes} bytes; at most "
        f"{spool.quarantine_max_count} deliveries and {spool.quarantine_max_bytes} bytes)"
    )
    print(f"stranded: {status.stranded_count}")
    for stranded in status.stranded:
        oldest = stranded.oldest.isoformat() if stranded.oldest else "-"
        print(f"stranded: {stranded.pending} for {stranded.database_label} (oldest {oldest})")
        print(
            f"warning: {stranded.pending} deliveries wait for another database "
            f"({stranded.database_label}); they drain only with DATABASE_URL pointing there, or "
            "after `python -m service spool retarget --yes` moves them to this one",
            file=sys.stderr,
        )
    return 0


RETARGET_LISTED = 20  # deliveries listed one by one; the rest are counted


def spool_retarget(settings: Settings, args: argparse.Namespace) -> int:
    """List the stranded deliveries; with --yes, move them to this database and drain them."""
    target, spool = _spool(settings)
    try:
        stranded = spool.stranded()
        listed = spool.stranded_deliveries(RETARGET_LISTED)
        if not stranded:
            print(f"nothing stranded: every spooled delivery is for {target.label}")
            return 0
        total = sum(s.pending for s in stranded)
        verb = "moving" if args.yes else "would move"
        for other in stranded:
            print(
                f"{verb} {other.pending} deliveries from {other.database_label} to {target.label}"
            )
        for label, event_id, received_at in listed:
            print(f"  {event_id}  received {received_at.isoformat()}  (for {label})")
        if total > len(listed):
            print(f"  … and {total - len(listed)} more")
        if not args.yes:
            print("nothing moved: run `python -m service spool retarget --yes` to move them")
            return 0
        for done in spool.retarget():
            extra = f" ({done.duplicates} already waiting here: dropped)" if done.duplicates else ""
            print(f"moved {done.moved} deliveries from {done.database_label}{extra}")
    finally:
        spool.close()
    return spool_drain(settings, args)


def spool_drain(settings: Settings, _: argparse.Namespace) -> int:
    result, reason = asyncio.run(_drain(settings))
    print(f"written: {result.written}, left: {result.left}")
    if result.left:
        print(f"{result.left} deliveries left in the spool: {reason}", file=sys.stderr)
        return 1
    return 0


def spool_requeue(settings: Settings, _: argparse.Namespace) -> int:
    result, _reason, requeued = asyncio.run(_requeue_and_drain(settings))
    for event_id, why in requeued.kept:
        print(f"still invalid: {event_id or '(no id)'}: {why}", file=sys.stderr)
    print(f"requeued: {requeued.released}, still in quarantine: {len(requeued.kept)}")
    print(f"written: {result.written}, left: {result.left}")
    return 1 if requeued.kept or result.left else 0


async def _drain(settings: Settings) -> tuple[DrainResult, str]:
    """Once, in this process, as the running service would (it may run beside us)."""
    from service.runtime import Runtime

    runtime = await Runtime.open(settings, schema_auto_apply=False)
    try:
        result = await runtime.recovery.drain_once()
        reason = runtime.spool.status().last_error or "see `python -m service spool status`"
        return result, reason
    finally:
        await runtime.stop()


async def _requeue_and_drain(settings: Settings) -> tuple[DrainResult, str, Requeued]:
    from service.outbox.requeue import requeue_quarantine
    from service.runtime import Runtime

    runtime = await Runtime.open(settings, schema_auto_apply=False)
    try:
        requeued = requeue_quarantine(runtime.spool)
        result = await runtime.recovery.drain_once()
        return result, "", requeued
    finally:
        await runtime.stop()


# -- export --------------------------------------------------------------------------------------


def export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the month's payroll export (docs/contract.md §7); one line on any mistake, never a
    trace."""
    from service.db.errors import classify
    from service.domain.payroll import Month, MonthError
    from service.domain.payroll_files import UnknownFormat, export_filename, format_named, render

    try:
        month = Month.parse(args.month)
        suffix = Path(args.output).suffix if args.output and args.output != "-" else ""
        fmt = format_named(args.format or (suffix if suffix in (".xlsx", ".csv") else "xlsx"))
    except (MonthError, UnknownFormat) as exc:
        print(f"timemoto-pointage: {exc}", file=sys.stderr)
        return 2
    output = None if args.output == "-" else Path(args.output or export_filename(month, fmt))
    if output is not None and not _writable(output):
        print(
            f"timemoto-pointage: cannot write {output}: no such folder, or no permission",
            file=sys.stderr,
        )
        return 2
    try:
        payroll = asyncio.run(_read_payroll(settings, month))
    except Exception as exc:  # noqa: BLE001 - a CLI says what failed in one line
        print(f"timemoto-pointage: export not made: {classify(exc)}", file=sys.stderr)
        return 1
    body = render(payroll, fmt)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return 0
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_bytes(body)
        partial.replace(output)  # never a half-written file under the real name
    except OSError as exc:
        partial.unlink(missing_ok=True)
        print(f"timemoto-pointage: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    provisional = sum(row.provisoire for row in payroll.summary)
    print(
        f"{output}: {month}, {len(payroll.summary)} employees, {len(payroll.days)} days, "
        f"{len(payroll.anomalies)} anomalies"
        + (f", {provisional} provisional" if provisional else "")
    )
    return 0


async def _read_payroll(settings: Settings, month: Month) -> Payroll:
    """The month, on the database the settings name (the embedded one when DATABASE_URL is
    unset), through the service's own reader."""
    from zoneinfo import ZoneInfo

    from service.operations.payroll import PayrollReader
    from service.runtime import DatabaseAccess

    database = await DatabaseAccess.open(settings)
    try:
        async with database.sessions() as session:
            return await PayrollReader(ZoneInfo(settings.working_timezone)).read(session, month)
    finally:
        await database.close(settings.connect_timeout)


def _writable(output: Path) -> bool:
    folder = output.parent if str(output.parent) else Path(".")
    if output.is_dir() or not folder.is_dir():
        return False
    return os.access(folder, os.W_OK) and (not output.exists() or os.access(output, os.W_OK))


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP service")
    serve_parser.add_argument("--host", type=_host)
    serve_parser.add_argument("--port", type=_port)
    serve_parser.set_defaults(run=serve)
    db = commands.add_parser("db", help="the pointage schema").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("apply", help="run sql/schema_pointage.sql").set_defaults(run=db_apply)
    db.add_parser("verify", help="check the schema; exit 0 only when ok").set_defaults(
        run=db_verify
    )
    commands.add_parser(
        "doctor", help="what is wrong with the database, and what to do (run it first)"
    ).set_defaults(run=doctor)
    spool = commands.add_parser("spool", help="deliveries waiting for the database").add_subparsers(
        dest="spool", required=True
    )
    spool.add_parser("status", help="pending, oldest, last error, quarantine").set_defaults(
        run=spool_status
    )
    spool.add_parser("drain", help="write the spool now; exit 1 if any is left").set_defaults(
        run=spool_drain
    )
    spool.add_parser(
        "requeue", help="validate the quarantine again, spool and write what is now valid"
    ).set_defaults(run=spool_requeue)
    export_parser = commands.add_parser(
        "export", help="write a month's payroll export (xlsx: three sheets; csv: the summary)"
    )
    export_parser.add_argument("month", help="YYYY-MM, e.g. 2026-11")
    export_parser.add_argument(
        "--format", choices=["xlsx", "csv"], help="default: from -o's suffix, else xlsx"
    )
    export_parser.add_argument(
        "-o",
        "--output",
        help="the file to write (default: pointage-YYYY-MM.xlsx here; - for stdout)",
    )
    export_parser.set_defaults(run=export)
    add_reconcile_parser(commands)
    retarget = spool.add_parser(
        "retarget",
        help="list deliveries stranded for another database; --yes moves them to this one",
    )
    retarget.add_argument(
        "--yes", action="store_true", help="move them to DATABASE_URL's database and write them"
    )
    retarget.set_defaults(run=spool_retarget)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        check_database_url(settings.database_url)  # libpq's grammar, its parameters (§5)
        return int(args.run(settings, args))
    except (ConfigurationError, SpoolError, EmbeddedError) as exc:
        print(f"timemoto-pointage: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"timemoto-pointage: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def reconcile_with_export(settings: Settings, args: argparse.Namespace) -> int:
    """TimeMoto's export compared with the clockings; --apply writes the missing (§9)."""
    from service import reconcile

    return reconcile.run(settings, args)


def add_reconcile_parser(commands: argparse._SubParsersAction[OneLineParser]) -> None:
    parser = commands.add_parser(
        "reconcile", help="compare TimeMoto's export (CSV/XLSX) with the clockings; --apply"
    )
    parser.add_argument("file", help="TimeMoto's export: CSV (, ; or tab) or XLSX")
    parser.add_argument("--from", dest="date_from", help="first day, yyyy-mm-dd")
    parser.add_argument("--to", dest="date_to", help="last day, yyyy-mm-dd")
    parser.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="a column the defaults miss; FIELD: user_id, name, first_name, last_name, date, "
        "time, datetime, type, timezone, ignored",
    )
    parser.add_argument("--format", choices=["text", "csv"], default="text")
    parser.add_argument(
        "--apply", action="store_true", help="insert the missing punches (else: a dry run)"
    )
    parser.set_defaults(run=reconcile_with_export)


def _os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the host is empty")
    return text


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


if __name__ == "__main__":
    sys.exit(main())
