"""`export-report`: the export TimeMoto's Cloud would give (Reports, CSV) for a file of deliveries
that `generate` wrote: one clocking a row, in the layout `python -m service reconcile` reads by
default (README, "Bringing back what TimeMoto has"). A re-sent delivery (same id) is one
clocking; the time is the one the service counts (the rounded time when TimeMoto rounds)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from service.domain.delivery import Punch
from simulator.expectations import punches

HEADER = ["User ID", "First name", "Last name", "Date", "Time", "In/Out", "Time zone", "Ignored"]
WORDS = {"entree": "In", "sortie": "Out", "debut_pause": "Break", "fin_pause": "Return"}


def rows(clockings: Iterable[Punch]) -> list[list[str]]:
    """TimeMoto's rows, by time as its Reports list them; a type it has no word for is left out."""
    made = []
    for p in sorted(clockings, key=lambda p: (p.horodatage, p.timemoto_user_id)):
        if p.type_pointage not in WORDS:
            continue
        data = p.payload.get("data", {}) if isinstance(p.payload, dict) else {}
        local = p.horodatage.astimezone(ZoneInfo(p.fuseau_horaire))
        made.append(
            [
                p.timemoto_user_id,
                str(data.get("userFirstName") or ""),
                str(data.get("userLastName") or ""),
                f"{local:%d/%m/%Y}",
                f"{local:%H:%M:%S}",
                WORDS[p.type_pointage],
                p.fuseau_horaire,
                "yes" if p.ignore else "no",
            ]
        )
    return made


def render(clockings: Iterable[Punch]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(clockings))
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    body = render(punches(Path(args.file).read_text(encoding="utf-8").splitlines()))
    if args.out:
        Path(args.out).write_text(body, encoding="utf-8-sig", newline="")
        print(f"{body.count(chr(10)) - 1} clockings → {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(body)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the deliveries (JSON lines) `generate` wrote")
    parser.add_argument("--out", type=Path, help="the CSV to write (else standard output)")
