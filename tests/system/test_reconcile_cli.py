"""`python -m service reconcile FILE [--from --to] [--map] [--format] [--apply]` as a real process
on a real database (docs/contract.md §9): TimeMoto's export in English and French, `,` `;` and tab,
UTF-8 with a BOM and Windows-1252, XLSX with Excel dates; broken files refused in one line with
nothing written; a second apply changes nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from simulator.deliveries import Employee
from tests.support.databases import Database, fresh_database
from tests.support.payroll import delivery, seed
from tests.support.service import service_cli
from tests.support.webhook import SECRET

NADIA = Employee("u-nadia", "Nadia", "Ben Younès", "LP-021")
SAMI = Employee("u-sami", "Sami", "Trabelsi", "LP-022")
# Tuesday 3 November: TimeMoto stopped calling at noon; Nadia's afternoon never came.
DELIVERED = [
    delivery(NADIA, "entree", "2026-11-03T08:00:00"),
    delivery(NADIA, "debut_pause", "2026-11-03T12:00:00"),
    delivery(SAMI, "entree", "2026-11-03T07:30:00"),
]
# What TimeMoto's export has for that Tuesday: (user, name, day, time, type in English)
EXPORT = [
    ("u-nadia", "Nadia Ben Younès", "03/11/2026", "08:00", "In"),
    ("u-nadia", "Nadia Ben Younès", "03/11/2026", "12:00", "Break"),
    ("u-nadia", "Nadia Ben Younès", "03/11/2026", "12:45", "Return"),
    ("u-nadia", "Nadia Ben Younès", "03/11/2026", "17:00", "Out"),
    ("u-sami", "Sami Trabelsi", "03/11/2026", "07:30", "In"),
    ("u-sami", "Sami Trabelsi", "03/11/2026", "16:00", "Out"),
]
FRENCH = {"In": "Entrée", "Out": "Sortie", "Break": "Pause", "Return": "Retour"}
MISSING = 3
# Nadia: 08:00-17:00 less 45 min; Sami: 07:30-16:00
MINUTES = {"u-nadia": 495, "u-sami": 510}


@pytest.fixture
def url(postgres_server_url: str) -> Iterator[str]:
    with fresh_database(postgres_server_url, "reconcile") as url:
        seed(url, [("Ben Younès", "Nadia", "u-nadia")], DELIVERED)
        yield url


def reconcile(url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    done = service_cli(
        ["reconcile", *args],
        {"DATABASE_URL": url, "TIMEMOTO_WEBHOOK_SECRET": SECRET, "DB_CONNECT_TIMEOUT": "5"},
        cwd,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def clockings(url: str) -> int:
    return int(Database(url).value("SELECT count(*) FROM pointage_horodatage") or 0)


def minutes(url: str) -> dict[str, int]:
    rows = Database(url).fetch(
        "SELECT timemoto_user_id AS u, minutes_travaillees AS m FROM pointage_resume_mensuel"
    )
    return {row["u"]: row["m"] for row in rows}


def write_csv(
    path: Path, header: list[str], rows: Sequence[tuple[str, ...]], sep: str, encoding: str
) -> Path:
    lines = [sep.join(header), *(sep.join(row) for row in rows)]
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


ENGLISH_HEADER = ["User ID", "Name", "Date", "Time", "In/Out"]
FRENCH_HEADER = ["ID utilisateur", "Nom", "Date", "Heure", "Entrée/Sortie"]


def test_the_dry_run_lists_the_missing_punches_then_apply_brings_the_hours_and_again_nothing(
    url: str, tmp_path: Path
) -> None:
    export = write_csv(tmp_path / "export.csv", ENGLISH_HEADER, EXPORT, ",", "utf-8")
    code, out, err = reconcile(url, tmp_path, str(export))
    assert code == 0, err
    assert clockings(url) == len(DELIVERED)  # a dry run writes nothing
    assert "Nadia Ben Younès (u-nadia), 2026-11-03" in out  # the name from equipe
    assert "  missing  12:45:00  fin_pause  row 4" in out
    assert "  missing  17:00:00  sortie  row 5" in out
    assert "  missing  16:00:00  sortie  row 7" in out
    assert f"totals: {MISSING} missing" in out and "3 matching" in out

    code, out, err = reconcile(url, tmp_path, str(export), "--apply")
    assert code == 0, err
    assert f"applied: {MISSING} punches inserted" in out
    assert clockings(url) == len(DELIVERED) + MISSING
    assert minutes(url) == MINUTES  # the trigger counted them

    code, out, err = reconcile(url, tmp_path, str(export), "--apply")
    assert code == 0, err
    assert "totals: 0 missing" in out and "applied: 0 punches inserted" in out
    assert clockings(url) == len(DELIVERED) + MISSING
    payload = Database(url).value(
        "SELECT payload::text FROM pointage_horodatage WHERE event_id LIKE 'import:%' LIMIT 1"
    )
    assert '"file": "export.csv"' in str(payload) and '"row":' in str(payload)


@pytest.mark.parametrize(
    ("header", "sep", "encoding", "french"),
    [
        (FRENCH_HEADER, ";", "cp1252", True),  # Excel's French CSV
        (FRENCH_HEADER, ";", "utf-8-sig", True),  # with a BOM
        (ENGLISH_HEADER, "\t", "utf-8", False),
        (["userid", "NAME", "dAtE", "tImE", "clocking type"], ",", "utf-8", False),
    ],
)
def test_files_in_french_and_english_with_each_separator_and_encoding(
    url: str, tmp_path: Path, header: list[str], sep: str, encoding: str, french: bool
) -> None:
    rows = [(*row[:4], FRENCH[row[4]] if french else row[4]) for row in EXPORT]
    export = write_csv(tmp_path / "export.csv", header, rows, sep, encoding)
    code, out, err = reconcile(url, tmp_path, str(export), "--apply")
    assert code == 0, err
    assert f"totals: {MISSING} missing" in out
    assert minutes(url) == MINUTES


def test_an_xlsx_with_excel_dates_and_a_column_mapped_with_map(url: str, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Badge", "Nom", "Horodatage", "Action"])
    for user, name, day, clock, kind in EXPORT:
        moment = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M")
        sheet.append([user, name, moment, kind])  # a date cell: Excel's serial in the file
    export = tmp_path / "export.xlsx"
    book.save(export)

    code, _, err = reconcile(url, tmp_path, str(export))
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "export.xlsx, row 1" in err and "user_id" in err

    code, out, err = reconcile(
        url, tmp_path, str(export), "--map", "Badge=user_id", "--map", "horodatage=datetime",
        "--apply",
    )  # fmt: skip
    assert code == 0, err
    assert f"applied: {MISSING} punches inserted" in out
    assert minutes(url) == MINUTES


def test_the_range_keeps_to_its_days_and_csv_reports_the_same(url: str, tmp_path: Path) -> None:
    rows = [*EXPORT, ("u-sami", "Sami Trabelsi", "04/11/2026", "07:30", "In")]
    export = write_csv(tmp_path / "export.csv", ENGLISH_HEADER, rows, ",", "utf-8")
    code, out, err = reconcile(
        url, tmp_path, str(export), "--from", "2026-11-03", "--to", "2026-11-03", "--format", "csv"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "employee,user_id,day,time,difference,file_type,stored_type,row"
    assert len(lines) == 1 + MISSING
    assert "Nadia Ben Younès,u-nadia,2026-11-03,17:00:00,missing,sortie,,5" in lines


def test_a_punch_the_table_has_and_the_file_lacks_or_of_another_type_is_reported_only(
    url: str, tmp_path: Path
) -> None:
    rows = [
        ("u-nadia", "N", "2026-11-03", "08:00:00", "Out"),  # stored as entree
        ("u-sami", "S", "2026-11-03", "07:30", "In"),
    ]  # Nadia's 12:00 break is not in the file
    export = write_csv(tmp_path / "export.csv", ENGLISH_HEADER, rows, ",", "utf-8")
    code, out, err = reconcile(url, tmp_path, str(export), "--apply")
    assert code == 0, err
    assert "  type     08:00:00  file sortie, stored entree  row 2" in out
    assert "  extra    12:00:00  debut_pause  (not in the file)" in out
    assert "totals: 0 missing" in out and "1 extra" in out and "1 of another type" in out
    assert clockings(url) == len(DELIVERED)


BROKEN = [
    ("not-csv.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "not-csv.csv: "),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.xls: an old Excel"),
    ("zip.xlsx", b"PK\x03\x04" + b"\x00" * 64, "zip.xlsx: not a CSV or XLSX"),
    ("no-type.csv", b"User ID,Date,Time\nu-nadia,03/11/2026,17:00\n", "row 1: no column for type"),
    (
        "bad-date.csv",
        b"User ID,Date,Time,Type\nu-nadia,03/11/2026,17:00,Out\nu-sami,31/02/2026,16:00,Out\n",
        "bad-date.csv, row 3, column 'Date': not a date",
    ),
    (
        "bad-type.csv",
        b"User ID;Date;Time;Type\nu-nadia;03/11/2026;17:00;Out\nu-sami;03/11/2026;16:00;Lunch\n",
        "bad-type.csv, row 3, column 'Type': unknown clocking type 'Lunch'",
    ),
    ("empty.csv", b"", "empty.csv"),
]


@pytest.mark.parametrize(("name", "body", "said"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_one_line_a_non_zero_exit_and_nothing_written(
    url: str, tmp_path: Path, name: str, body: bytes, said: str
) -> None:
    export = tmp_path / name
    export.write_bytes(body)
    code, _, err = reconcile(url, tmp_path, str(export), "--apply")
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert said in err and "Traceback" not in err
    assert clockings(url) == len(DELIVERED)
