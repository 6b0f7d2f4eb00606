"""The month-end payroll export's files (docs/contract.md §7): the `.xlsx` the payroll clerk opens
(three sheets) and the `.csv` of its `Récapitulatif`, made in memory from a `Payroll`. No I/O.

Used by `GET /api/export/{YYYY-MM}.xlsx|csv` (service/http/export.py), by
`python -m service export` and by `make simulate`; the database side is
service/db/export_queries.py.
"""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from service.domain.payroll import (
    NO,
    YES,
    Kind,
    LaterTime,
    Month,
    Payroll,
    Sheet,
    Value,
    hours_text,
    sheets,
)

Format = Literal["xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "csv")
MEDIA_TYPES: dict[Format, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class UnknownFormat(ValueError):
    pass


def export_filename(month: Month, fmt: Format) -> str:
    return f"pointage-{month}.{fmt}"


def parse_export_name(name: str) -> tuple[Month, Format]:
    """`2026-11.xlsx` → (2026-11, xlsx); UnknownFormat for another suffix, MonthError for a
    bad month."""
    stem, dot, suffix = name.rpartition(".")
    fmt = _format(suffix.lower()) if dot else None
    if fmt is None:
        raise UnknownFormat(f"ask for YYYY-MM.xlsx or YYYY-MM.csv, not {name!r}")
    return Month.parse(stem), fmt


def _format(text: str) -> Format | None:
    for fmt in FORMATS:
        if text == fmt:
            return fmt
    return None


def format_named(text: str) -> Format:
    fmt = _format(text.lower().lstrip("."))
    if fmt is None:
        raise UnknownFormat(f"the format must be xlsx or csv, not {text!r}")
    return fmt


def render(payroll: Payroll, fmt: Format) -> bytes:
    return render_xlsx(payroll) if fmt == "xlsx" else render_csv(payroll)


# -- xlsx ------------------------------------------------------------------------------------

NUMBER_FORMATS: dict[Kind, str] = {
    "integer": "0",
    "duration": "[h]:mm",
    "decimal": "0.00",
    "date": "dd/mm/yyyy",
    "time": "hh:mm",
}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDE5F0")
MAX_WIDTH = 60
MAX_CELL_TEXT = 32_767


def _cell_value(kind: Kind, value: Value) -> Any:
    """What openpyxl stores: real numbers, durations, dates and times; oui/non for booleans."""
    if value is None:
        return None
    if kind == "duration":
        assert isinstance(value, int)
        return timedelta(minutes=value)  # a fraction of a day, shown by [h]:mm
    if kind == "decimal":
        assert isinstance(value, Decimal)
        return float(value)
    if kind == "yesno":
        return YES if value else NO
    if kind == "text":
        return _sheet_text(str(value))
    if isinstance(value, LaterTime):
        return value.at  # still a time (sorts, sums); its number format shows the day
    return value


def _number_format(kind: Kind, value: Value) -> str:
    if isinstance(value, LaterTime):
        return f'hh:mm" (+{value.days_later} j)"'
    return NUMBER_FORMATS[kind]


def _sheet_text(text: str) -> str:
    """What a cell can hold: no control characters (a file with them needs repair), line ends
    as XML keeps them, at most 32,767 characters (Excel's limit)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_TEXT]


def _shown(kind: Kind, value: Value) -> str:
    """The text a person sees in the cell (also the CSV's): for widths and for the CSV."""
    if value is None:
        return ""
    if kind == "duration":
        assert isinstance(value, int)
        return hours_text(value)
    if kind == "decimal":
        return str(value).replace(".", ",")
    if kind == "date":
        assert isinstance(value, date)
        return value.strftime("%d/%m/%Y")
    if kind == "time":
        assert isinstance(value, time | LaterTime)
        return str(value) if isinstance(value, LaterTime) else value.strftime("%H:%M")
    if kind == "yesno":
        return YES if value else NO
    return str(value)


def _write_sheet(worksheet: Worksheet, sheet: Sheet[Any]) -> None:
    worksheet.title = sheet.title
    widths = [len(header) + 3 for header in sheet.headers]  # bold, and the filter's button
    worksheet.append(sheet.headers)
    for column, cell in zip(sheet.columns, worksheet[1], strict=True):
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="left" if column.kind == "text" else "center")
    # Each cell by its row and column: `worksheet[worksheet.max_row]` counts every cell of the
    # sheet at each row (quadratic: over a minute for 500 employees' day sheet, bench erp_size).
    for number, row in enumerate(sheet.rows, start=2):
        values = [column.value(row) for column in sheet.columns]
        worksheet.append(
            [_cell_value(c.kind, v) for c, v in zip(sheet.columns, values, strict=True)]
        )
        for index, (column, value) in enumerate(zip(sheet.columns, values, strict=True)):
            cell = worksheet.cell(row=number, column=index + 1)
            if column.kind == "text" and value is not None:
                cell.data_type = "s"  # a name starting with "=" is a name, never a formula
            elif column.kind in NUMBER_FORMATS:
                cell.number_format = _number_format(column.kind, value)
            widths[index] = max(widths[index], len(_shown(column.kind, value)) + 2)
    last = get_column_letter(len(sheet.columns))
    for index, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = min(width, MAX_WIDTH)
    worksheet.freeze_panes = "A2"
    worksheet.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
    worksheet.print_title_rows = "1:1"
    worksheet.page_setup.orientation = "landscape"
    worksheet.page_setup.fitToWidth = 1
    worksheet.page_setup.fitToHeight = 0
    worksheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def render_xlsx(payroll: Payroll) -> bytes:
    workbook = Workbook()
    workbook.properties.creator = "timemoto-pointage"
    workbook.properties.title = f"Pointage {payroll.month}"
    workbook.properties.language = "fr-FR"
    first = workbook.active
    assert isinstance(first, Worksheet)
    summary, days, anomalies = sheets(payroll)
    _write_sheet(first, summary)
    _write_sheet(workbook.create_sheet(), days)
    _write_sheet(workbook.create_sheet(), anomalies)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- csv -------------------------------------------------------------------------------------

CSV_DELIMITER = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(kind: Kind, value: Value) -> str:
    shown = _shown(kind, value)
    if kind == "text" and shown.startswith(FORMULA_STARTS):
        return "'" + shown  # a spreadsheet would run it as a formula (CSV injection)
    return shown


def csv_rows(payroll: Payroll) -> list[list[str]]:
    """The `Récapitulatif` as the CSV's cells: header, then one row per employee."""
    summary = sheets(payroll)[0]
    rows: list[list[str]] = [summary.headers]
    for row in summary.rows:
        rows.append([_csv_text(c.kind, c.value(row)) for c in summary.columns])
    return rows


def render_csv(payroll: Payroll) -> bytes:
    """UTF-8 with a BOM, `;` between cells, decimal comma: what a French Excel opens as columns."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerows(csv_rows(payroll))
    return buffer.getvalue().encode("utf-8-sig")
