"""What the simulator prints: a progress bar, the delivery log's summary, the hours table."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import TextIO

from simulator.expectations import Difference, ErpMonth, erp_hours
from simulator.generator import Company
from simulator.sender import DeliveryLog, DeliveryResult
from simulator.worktime_model import MonthSummary


class Progress:
    """`[#####.....] 812/1996  41%  96/s  stored 790 queued 22`: redrawn in place on a terminal,
    one line every tenth otherwise (logs, CI)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.total = total
        self.stream = stream
        self.width = width
        self.done = 0
        self.answers: Counter[str] = Counter()
        self.started = time.monotonic()
        self._tty = stream.isatty()
        self._printed_tenth = 0
        self.note = ""

    def advance(self, result: DeliveryResult) -> None:
        self.done += 1
        self.answers[str(result.answer.get("status") or result.log_status)] += 1
        tenth = self.done * 10 // max(1, self.total)
        if self._tty or tenth > self._printed_tenth:
            self._printed_tenth = tenth
            self.draw()

    def draw(self) -> None:
        filled = self.width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (self.width - filled)
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        answers = " ".join(f"{name} {count}" for name, count in sorted(self.answers.items()))
        line = f"[{bar}] {self.done}/{self.total} {100 * self.done // max(1, self.total):3d}%"
        line += f" {rate:5.0f}/s  {answers}{'  ' + self.note if self.note else ''}"
        self.stream.write(f"\r{line}\033[K" if self._tty else line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


def log_summary(log: DeliveryLog) -> str:
    seconds = max(log.seconds, 1e-6)
    answers = ", ".join(f"{name} {count}" for name, count in sorted(log.answers().items()))
    return "\n".join(
        [
            f"delivery log: {len(log.results)} deliveries in {log.seconds:.1f} s"
            f" ({len(log.results) / seconds:.0f}/s)",
            f"  Completed {log.count('Completed')}   Failed {log.count('Failed')}",
            f"  answers: {answers}",
            f"  attempts {log.attempts}, failed attempts {log.failed_attempts},"
            f" error rate {100 * log.error_rate:.1f} %",
        ]
    )


def hours(minutes: int | None) -> str:
    return "-" if minutes is None else f"{minutes // 60}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class HoursRow:
    name: str
    user_id: str
    time_zone: str
    mapped: bool
    shift: str
    actual: MonthSummary | None
    expected: MonthSummary | None  # None: no punch this month
    temps_travaille_mois: int | None  # minutes (minutes_travaillees_mois); None: not in `equipe`
    expected_temps: int  # minutes of the user's latest expected month (docs/contract.md §3)
    # The ERP's pointage_resume row of the month (mapped users); not compared when not given.
    erp: ErpMonth | None = None
    erp_compared: bool = False

    @property
    def erp_ok(self) -> bool:
        if not (self.mapped and self.erp_compared):
            return True
        if self.expected is None:
            return self.erp is None
        return self.erp == ErpMonth(
            erp_hours(self.expected.minutes_travaillees), self.expected.jours_travailles
        )

    @property
    def ok(self) -> bool:
        if self.expected is None:
            return self.actual is None and self.erp_ok
        fields_match = self.actual == self.expected and self.erp_ok
        if self.mapped:
            return fields_match and self.temps_travaille_mois == self.expected_temps
        return fields_match


def hours_rows(
    company: Company,
    month: date,
    actual: list[MonthSummary],
    expected: list[MonthSummary],
    equipe: dict[str, int],
    erp: dict[tuple[str, date], ErpMonth] | None = None,
) -> list[HoursRow]:
    have = {t.timemoto_user_id: t for t in actual if t.mois == month}
    want = {t.timemoto_user_id: t for t in expected if t.mois == month}
    latest = {t.timemoto_user_id: t.minutes_travaillees for t in sorted(expected, key=_month)}
    return [
        HoursRow(
            name=f"{m.employee.first_name} {m.employee.last_name}",
            user_id=m.employee.user_id,
            time_zone=m.employee.time_zone,
            mapped=m.mapped,
            shift=m.shift,
            actual=have.get(m.employee.user_id),
            expected=want.get(m.employee.user_id),
            temps_travaille_mois=equipe.get(m.employee.user_id),
            expected_temps=latest.get(m.employee.user_id, 0),
            erp=(erp or {}).get((m.employee.user_id, month)),
            erp_compared=erp is not None,
        )
        for m in company.staff
    ]


def _month(summary: MonthSummary) -> date:
    return summary.mois


def hours_table(rows: list[HoursRow], month: date) -> str:
    head = (
        f"{'employee':<22} {'user':<8} {'zone':<13} {'shift':<5} {'equipe':>8} "
        f"{'hours':>7} {'expected':>8} {'ERP h':>7} {'days':>9} {'punches':>9} {'anomalies':>9}  ok"
    )
    lines = [
        f"worked hours, {month:%B %Y} (pointage_resume_mensuel; equipe = its minutes;"
        " ERP h = the ERP's pointage_resume.total_heures)",
        head,
    ]
    for row in rows:
        got, want = row.actual, row.expected

        def pair(
            name: str, got: MonthSummary | None = got, want: MonthSummary | None = want
        ) -> str:
            a = "-" if got is None else str(getattr(got, name))
            b = "" if want is None else f"/{getattr(want, name)}"
            return a + b

        verdict = "✓" if row.ok else "✗ DIFFERS"
        equipe = hours(row.temps_travaille_mois) if row.mapped else "unmapped"
        lines.append(
            f"{row.name[:22]:<22} {row.user_id[:8]:<8} {row.time_zone:<13} {row.shift:<5} "
            f"{equipe:>8} {hours(got.minutes_travaillees if got else None):>7} "
            f"{hours(want.minutes_travaillees if want else None):>8} "
            f"{_erp_cell(row):>7} "
            f"{pair('jours_travailles'):>9} {pair('nb_pointages'):>9} "
            f"{pair('nb_anomalies'):>9}  {verdict}"
        )
    total = sum(r.actual.minutes_travaillees for r in rows if r.actual)
    lines.append(f"{'total':<22} {'':<8} {'':<13} {'':<5} {'':>8} {hours(total):>7}")
    return "\n".join(lines)


def _erp_cell(row: HoursRow) -> str:
    if not row.mapped or not row.erp_compared:
        return ""
    return "-" if row.erp is None else str(row.erp.total_heures)


def differences_text(found: list[Difference]) -> str:
    if not found:
        return "no differences"
    return "\n".join([f"{len(found)} difference(s):", *(f"  {d.line()}" for d in found)])
