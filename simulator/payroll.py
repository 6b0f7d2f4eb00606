"""The end of `make simulate`: the month's payroll export, downloaded from the running service as
the payroll clerk would (`GET /api/export/YYYY-MM.xlsx` as admin), kept under DATA_DIR, and held to
`pointage_resume` (docs/contract.md §7: its figures equal the table's exactly)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import httpx
import openpyxl

from service.domain.payroll import SUMMARY_TITLE, Month
from service.domain.payroll_files import export_filename
from service.http import paths
from simulator.harness import ServiceProcess
from simulator.worktime_model import MonthSummary

FIGURES = {
    "Minutes travaillées": "minutes_travaillees",
    "Jours travaillés": "jours_travailles",
    "Pointages": "nb_pointages",
    "Anomalies": "nb_anomalies",
}


@dataclass(frozen=True, slots=True)
class Export:
    path: Path | None  # None: not made
    employees: int = 0
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.path is not None and not self.problems

    def line(self) -> str:
        if self.path is None:
            return f"payroll export: not made: {'; '.join(self.problems)}"
        verdict = "equals pointage_resume" if self.ok else "DIFFERS: " + "; ".join(self.problems)
        return f"payroll export: {self.path} ({self.employees} employees, {verdict})"


def download(service: ServiceProcess, password: str, month: Month, folder: Path) -> Export:
    url = f"{service.base_url}{paths.EXPORT}/{month}.xlsx"
    try:
        answer = httpx.get(url, auth=("admin", password), timeout=60)
    except httpx.HTTPError as exc:
        return Export(None, problems=(f"{type(exc).__name__}: {exc}",))
    if answer.status_code != 200:
        return Export(None, problems=(f"HTTP {answer.status_code}: {answer.text[:200]}",))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / export_filename(month, "xlsx")
    path.write_bytes(answer.content)
    return Export(path)


def check(export: Export, month: Month, resume: list[MonthSummary]) -> Export:
    """The export's `Récapitulatif` against the month's `pointage_resume` rows, figure by figure."""
    if export.path is None:
        return export
    sheet = openpyxl.load_workbook(io.BytesIO(export.path.read_bytes()))[SUMMARY_TITLE]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    listed = {row[header.index("Identifiant TimeMoto")]: row for row in rows}
    stored = {s.timemoto_user_id: s for s in resume if s.mois == month.first_day}
    problems = [f"{user}: not in the export" for user in stored.keys() - listed.keys()]
    problems += [f"{user}: not in pointage_resume" for user in listed.keys() - stored.keys()]
    for user in stored.keys() & listed.keys():
        for title, field in FIGURES.items():
            shown, kept = listed[user][header.index(title)], getattr(stored[user], field)
            if shown != kept:
                problems.append(f"{user} {title}: {shown} in the export, {kept} in the table")
    return Export(export.path, len(rows), tuple(problems))
