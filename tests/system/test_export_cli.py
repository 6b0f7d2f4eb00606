"""`python -m service export YYYY-MM [--format xlsx|csv] [-o FILE]` as a real process, and the file
it writes opened by LibreOffice headless (docs/contract.md §7)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.domain.payroll import hours_text
from simulator.deliveries import Employee
from simulator.harness import free_port
from tests.support.libreoffice import PACKAGE, convert_to_csv
from tests.support.payroll import (
    csv_rows,
    delivery,
    seed,
    workbook_rows,
)
from tests.support.tools import tool_or_skip

ROOT = Path(__file__).resolve().parents[2]
NADIA = Employee("u-nadia", "Nadia", "Ben Younès", "LP-021")
ELOISE = Employee("u-eloise", "Éloïse", 'L\'Hôte; "dite" Lou', "LP-022", "Europe/Paris")
PUNCHES = [
    delivery(NADIA, "entree", "2026-11-30T22:00:00"),
    delivery(NADIA, "sortie", "2026-12-01T06:00:00"),
    delivery(NADIA, "entree", "2026-11-02T08:00:00"),
    delivery(NADIA, "entree", "2026-11-02T08:10:00"),  # the first one: entrée répétée
    delivery(NADIA, "sortie", "2026-11-02T16:10:00"),
    delivery(ELOISE, "entree", "2026-11-05T09:00:00"),
    delivery(ELOISE, "debut_pause", "2026-11-05T12:30:00"),
    delivery(ELOISE, "fin_pause", "2026-11-05T13:15:00"),
    delivery(ELOISE, "sortie", "2026-11-05T18:07:00"),
]


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    seed(database_url, [("Ben Younès", "Nadia", "u-nadia")], PUNCHES)
    return database_url


def run(args: list[str], cwd: Path, database_url: str | None) -> subprocess.CompletedProcess[bytes]:
    """The CLI in its own working directory (no developer's .env), as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ADMIN_PASSWORD")}
    env["PYTHONPATH"] = str(ROOT)
    env["DB_CONNECT_TIMEOUT"] = "2"
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "service", "export", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The CLI's complaint: one line on stderr, never a traceback."""
    err = result.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_xlsx_by_default_in_the_working_directory(url: str, tmp_path: Path) -> None:
    result = run(["2026-11"], tmp_path, url)
    assert result.returncode == 0, result.stderr.decode()
    written = tmp_path / "pointage-2026-11.xlsx"
    assert result.stdout.decode().startswith(f"{written.name}: 2026-11, 2 employees")
    summary = workbook_rows(written.read_bytes())["Récapitulatif"]
    assert [(r["Nom"], r["Minutes travaillées"]) for r in summary] == [
        ("Ben Younès", 480 + 480),
        ('L\'Hôte; "dite" Lou', 502),
    ]


def test_csv_by_option_or_by_suffix_and_to_stdout(url: str, tmp_path: Path) -> None:
    by_option = tmp_path / "paie.txt"
    assert run(["2026-11", "--format", "csv", "-o", str(by_option)], tmp_path, url).returncode == 0
    by_suffix = tmp_path / "novembre.csv"
    assert run(["2026-11", "-o", str(by_suffix)], tmp_path, url).returncode == 0
    to_stdout = run(["2026-11", "--format", "csv", "-o", "-"], tmp_path, url)
    assert to_stdout.returncode == 0
    assert by_option.read_bytes() == by_suffix.read_bytes() == to_stdout.stdout
    header, nadia, eloise = csv_rows(by_suffix.read_bytes())
    assert eloise[1:3] == ['L\'Hôte; "dite" Lou', "Éloïse"]  # quotes and ';' survive
    assert nadia[header.index("Heures (H:MM)")] == "16:00"
    assert nadia[header.index("Heures (décimales)")] == "16,00"
    assert nadia[header.index("Anomalies")] == "1"
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "novembre"])
def test_a_month_that_does_not_exist(url: str, tmp_path: Path, month: str) -> None:
    result = run([month], tmp_path, url)
    assert result.returncode == 2
    assert "YYYY-MM" in one_line(result)
    assert list(tmp_path.iterdir()) == []


def test_a_path_that_cannot_be_written(url: str, tmp_path: Path) -> None:
    for target in (tmp_path / "no" / "such" / "folder.xlsx", tmp_path):
        result = run(["2026-11", "-o", str(target)], tmp_path, url)
        assert result.returncode != 0
        assert f"cannot write {target}" in one_line(result)


def test_a_database_that_is_not_there(tmp_path: Path) -> None:
    result = run(["2026-11"], tmp_path, f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert result.returncode == 1
    assert "refused" in one_line(result)
    assert not (tmp_path / "pointage-2026-11.xlsx").exists()


def test_a_month_with_no_punches(url: str, tmp_path: Path) -> None:
    result = run(["2024-02", "-o", "empty.xlsx"], tmp_path, url)
    assert result.returncode == 0
    assert all(
        rows == [] for rows in workbook_rows((tmp_path / "empty.xlsx").read_bytes()).values()
    )


# -- LibreOffice -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def soffice() -> Iterator[str]:
    yield tool_or_skip("soffice", PACKAGE)


def test_libreoffice_opens_the_workbook(url: str, tmp_path: Path, soffice: str) -> None:
    """Converted without error, every sheet, and shown as we mean it: hours as H:MM, dates as
    dd/mm/yyyy, times as hh:mm, the same figures as our own CSV."""
    assert run(["2026-11", "-o", "paie.xlsx"], tmp_path, url).returncode == 0
    assert run(["2026-11", "-o", "paie.csv"], tmp_path, url).returncode == 0
    converted = convert_to_csv(soffice, tmp_path / "paie.xlsx", tmp_path)
    assert converted.returncode == 0, converted.stderr
    assert "error" not in converted.stdout.lower()

    def shown(sheet: str) -> list[list[str]]:
        text = (tmp_path / f"paie-{sheet}.csv").read_text(encoding="utf-8-sig")
        return list(csv.reader(text.splitlines(), delimiter=";"))

    summary = shown("Récapitulatif")
    ours = csv_rows((tmp_path / "paie.csv").read_bytes())
    decimal = ours[0].index("Heures (décimales)")
    for theirs, mine in zip(summary, ours, strict=True):  # LibreOffice's decimal point is its own
        assert theirs[:decimal] + theirs[decimal + 1 :] == mine[:decimal] + mine[decimal + 1 :]
    assert summary[1][ours[0].index("Heures (H:MM)")] == hours_text(960)

    days = shown("Détail par jour")
    header = days[0]
    night = next(row for row in days if row[header.index("Date")] == "30/11/2026")
    assert (night[header.index("Première entrée")], night[header.index("Dernière sortie")]) == (
        "22:00",
        "06:00 (+1 j)",  # the exit on the next day, as the clerk sees it
    )
    assert night[header.index("Heures (H:MM)")] == "8:00"

    anomalies = shown("Anomalies")
    assert len(anomalies) == 2
    row = dict(zip(anomalies[0], anomalies[1], strict=True))
    assert (row["Date"], row["Heure"], row["Pointage"], row["Motif"]) == (
        "02/11/2026",
        "08:00",
        "entrée",
        "entrée répétée",
    )
