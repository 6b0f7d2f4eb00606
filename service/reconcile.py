"""`python -m service reconcile FILE`: TimeMoto's export compared with the clockings stored, and
with --apply the missing punches written through the store, as deliveries are (docs/contract.md
§9).

The apply is idempotent and resumable, not one transaction: each punch has its deterministic
event id, so a run cut short (or run twice) stores what is left and nothing twice, and the
duplicate rule of the insert trigger keeps a delivery of the same clocking arriving meanwhile
from counting twice. The whole file is read and checked before anything is written.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from service.db.errors import DatabaseUnavailable, DeliveryRefused, classify
from service.db.reconcile_queries import read_names, read_stored
from service.db.store import DeliveryStore
from service.domain.reconcile import Comparison, compare
from service.domain.timemoto_export import (
    ExportError,
    ExportPunch,
    decode_csv,
    parse_mapping,
    read_rows,
)
from service.runtime import DatabaseAccess
from service.settings import Settings

PER_TRANSACTION = 200  # punches a transaction of the apply writes


def read_export(path: Path, default_zone: str, mapping: Sequence[str] = ()) -> list[ExportPunch]:
    """The file's punches; ExportError (one line) when it cannot be read whole."""
    name = path.name
    try:
        columns = parse_mapping(mapping)
    except ValueError as exc:
        raise ExportError(name, str(exc)) from exc
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ExportError(name, f"cannot read: {exc.strerror or exc}") from exc
    if body.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExportError(name, "an old Excel file (.xls): save it as .xlsx or CSV")
    if body.startswith(b"PK\x03\x04"):
        return read_rows(name, _xlsx_rows(name, body), default_zone, columns)
    return read_rows(name, decode_csv(name, body), default_zone, columns)


def _xlsx_rows(name: str, body: bytes) -> list[tuple[Any, ...]]:
    """The first sheet's rows (openpyxl's read-only mode: a year's export is not held as cells
    with their styles)."""
    from openpyxl import load_workbook  # only when an XLSX comes

    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExportError(name, "not a CSV or XLSX file (a zip that is no workbook)") from exc
    try:
        sheet = book.worksheets[0]
        return list(sheet.iter_rows(values_only=True))
    finally:
        book.close()


@dataclass(frozen=True, slots=True)
class Reconciliation:
    first: date
    last: date
    punches: int  # in the file, within the range
    names: dict[str, str]
    comparison: Comparison
    stored: int = 0  # by --apply
    already: int = 0  # by --apply: there by then (a delivery came meanwhile)


def _range(
    punches: list[ExportPunch], first: date | None, last: date | None
) -> tuple[date, date, list[ExportPunch]]:
    days = [p.punch.date_travail for p in punches]
    start = first or (min(days) if days else date.today())
    end = last or (max(days) if days else start)
    return start, end, [p for p in punches if start <= p.punch.date_travail <= end]


async def reconcile(
    settings: Settings,
    punches: list[ExportPunch],
    first: date | None,
    last: date | None,
    apply: bool,
) -> Reconciliation:
    start, end, chosen = _range(punches, first, last)
    users = {p.punch.timemoto_user_id for p in chosen}
    database = await DatabaseAccess.open(settings)
    try:
        async with database.sessions() as session:
            stored = await read_stored(session, users, start, end)
            names = await read_names(session, users)
        for item in chosen:  # else the file's own name
            if item.name and item.punch.timemoto_user_id not in names:
                names[item.punch.timemoto_user_id] = item.name
        comparison = compare(chosen, stored)
        done = Reconciliation(start, end, len(chosen), names, comparison)
        missing = comparison.missing()
        if not apply or not missing:
            return done
        now = datetime.now(UTC)
        fates = await DeliveryStore(database.sessions).record_punches(
            [(p, now) for p in missing], PER_TRANSACTION
        )
        for fate in fates:
            if isinstance(fate, DatabaseUnavailable | DeliveryRefused):
                raise fate
        return Reconciliation(
            start,
            end,
            len(chosen),
            names,
            comparison,
            stored=sum(f == "stored" for f in fates),
            already=sum(f == "duplicate" for f in fates),
        )
    finally:
        await database.close(settings.connect_timeout)


def render_text(file: str, done: Reconciliation, apply: bool) -> str:
    c = done.comparison
    lines = [
        f"{file}: {done.first} to {done.last}, {done.punches} punches in the file, "
        f"{len({p.user_id for p in c.differences})} employees with differences"
    ]
    heading = None
    for d in c.differences:
        if (d.user_id, d.day) != heading:
            heading = (d.user_id, d.day)
            name = done.names.get(d.user_id)
            lines.append(f"{name} ({d.user_id}), {d.day}" if name else f"{d.user_id}, {d.day}")
        row = f"  row {d.row}" if d.row is not None else ""
        if d.kind == "missing":
            lines.append(f"  missing  {d.local_time}  {d.file_type}{row}")
        elif d.kind == "extra":
            lines.append(f"  extra    {d.local_time}  {d.stored_type}  (not in the file)")
        else:
            lines.append(
                f"  type     {d.local_time}  file {d.file_type}, stored {d.stored_type}{row}"
            )
    lines.append(
        f"totals: {c.count('missing')} missing (TimeMoto has them, the clockings lack them), "
        f"{c.count('extra')} extra (the clockings have them, the file lacks them), "
        f"{c.count('type')} of another type, {c.matching} matching"
    )
    if apply:
        lines.append(
            f"applied: {done.stored} punches inserted"
            + (f", {done.already} already there (delivered meanwhile)" if done.already else "")
        )
    elif c.count("missing"):
        lines.append(f"dry run: nothing written; --apply inserts the {c.count('missing')} missing")
    else:
        lines.append("dry run: nothing written; nothing is missing")
    return "\n".join(lines) + "\n"


def render_csv(done: Reconciliation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["employee", "user_id", "day", "time", "difference", "file_type", "stored_type", "row"]
    )
    for d in done.comparison.differences:
        writer.writerow(
            [
                done.names.get(d.user_id, ""),
                d.user_id,
                d.day.isoformat(),
                d.local_time.isoformat(),
                d.kind,
                d.file_type or "",
                d.stored_type or "",
                "" if d.row is None else d.row,
            ]
        )
    return out.getvalue()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ExportError(option, f"expected a date as yyyy-mm-dd, not {text!r}") from None


def run(settings: Settings, args: argparse.Namespace) -> int:
    """The command: one line and a non-zero exit for any mistake, nothing written then."""
    path = Path(args.file)
    try:
        first, last = _day(args.date_from, "--from"), _day(args.date_to, "--to")
        if first and last and last < first:
            raise ExportError("--to", "ends before --from")
        punches = read_export(path, settings.working_timezone, args.map or ())
    except ExportError as exc:
        print(f"timemoto-pointage: {exc}", file=sys.stderr)
        return 2
    try:
        done = asyncio.run(reconcile(settings, punches, first, last, args.apply))
    except (DatabaseUnavailable, DeliveryRefused) as exc:
        print(f"timemoto-pointage: reconcile stopped: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a CLI says what failed in one line
        print(f"timemoto-pointage: reconcile stopped: {classify(exc)}", file=sys.stderr)
        return 1
    if args.format == "csv":
        sys.stdout.write(render_csv(done))
    else:
        sys.stdout.write(render_text(path.name, done, args.apply))
    return 0
