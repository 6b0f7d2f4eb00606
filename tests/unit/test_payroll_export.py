"""The payroll export's rows and files, without a database: months, provisoire, the xlsx's cells
and layout, the csv's shape (docs/contract.md §7)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.payroll import (
    AnomalyRecord,
    DayRecord,
    LaterTime,
    Month,
    MonthError,
    MonthRecord,
    Payroll,
    Person,
    build_payroll,
    decimal_hours,
    hours_text,
    provisoire,
)
from service.domain.payroll_files import (
    UnknownFormat,
    format_named,
    parse_export_name,
    render_csv,
    render_xlsx,
)
from tests.support.payroll import csv_rows, workbook_headers, workbook_rows

TUNIS = ZoneInfo("Africa/Tunis")
NOVEMBER = Month(2026, 11)
AFTER = datetime(2027, 1, 15, tzinfo=UTC)  # every month of 2026 is over


def person(nom: str, prenom: str = "Amira", user: str = "u1", equipe: int | None = 7) -> Person:
    return Person(user, equipe, nom, prenom, equipe is not None, "LP-014")


def record(p: Person, minutes: int = 8883, open_shift: date | None = None) -> MonthRecord:
    return MonthRecord(p, minutes, 20, 80, 2, open_shift)


def a_payroll(*records: MonthRecord, now: datetime = AFTER) -> Payroll:
    return build_payroll(NOVEMBER, now, TUNIS, records, [], [])


# -- months ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026-1", "2026-11-01", "abc", ""])
def test_not_a_month(text: str) -> None:
    with pytest.raises(MonthError, match="YYYY-MM"):
        Month.parse(text)


def test_months_out_of_range() -> None:
    with pytest.raises(MonthError, match="between 1900 and 2200"):
        Month.parse("1899-12")


def test_month_arithmetic() -> None:
    assert Month.parse("2026-12").next == Month(2027, 1)
    assert str(Month.parse(" 2026-03 ")) == "2026-03"
    assert NOVEMBER.first_day == date(2026, 11, 1)


def test_a_month_is_over_when_it_has_ended_in_the_workshop() -> None:
    # 23:30 UTC on 30 November is 00:30 on 1 December in Tunis (UTC+1).
    assert NOVEMBER.is_over(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), TUNIS)
    assert not NOVEMBER.is_over(datetime(2026, 11, 30, 22, 59, tzinfo=UTC), TUNIS)
    assert not NOVEMBER.is_over(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), ZoneInfo("UTC"))


def test_provisoire() -> None:
    during = datetime(2026, 11, 20, tzinfo=UTC)
    assert provisoire(NOVEMBER, during, TUNIS, None)  # the month is not over
    assert not provisoire(NOVEMBER, AFTER, TUNIS, None)
    assert provisoire(NOVEMBER, AFTER, TUNIS, date(2026, 11, 30))  # ends it with an open shift
    assert not provisoire(NOVEMBER, AFTER, TUNIS, date(2026, 12, 1))  # open in December only
    assert not provisoire(NOVEMBER, AFTER, TUNIS, date(2026, 10, 31))


def test_export_names() -> None:
    assert parse_export_name("2026-11.xlsx") == (NOVEMBER, "xlsx")
    assert parse_export_name("2026-11.CSV") == (NOVEMBER, "csv")
    with pytest.raises(MonthError):
        parse_export_name("2026-13.xlsx")
    for name in ("2026-11.pdf", "2026-11", "xlsx"):
        with pytest.raises(UnknownFormat):
            parse_export_name(name)
    assert format_named(".csv") == "csv"
    with pytest.raises(UnknownFormat):
        format_named("ods")


def test_hours() -> None:
    assert hours_text(8883) == "148:03"
    assert hours_text(0) == "0:00"
    assert hours_text(59) == "0:59"
    assert decimal_hours(8883) == Decimal("148.05")
    assert decimal_hours(10070) == Decimal("167.83")


def test_rows_are_in_alphabetical_order_whatever_the_accents() -> None:
    names = ["Trabelsi", "élodie", "Eya", "Ben Salah", "Émna", "fatma"]
    records = [record(person(n, user=f"u{i}")) for i, n in enumerate(names)]
    payroll = build_payroll(NOVEMBER, AFTER, TUNIS, records, [], [])
    assert [r.person.nom for r in payroll.summary] == [
        "Ben Salah",
        "élodie",
        "Émna",
        "Eya",
        "fatma",
        "Trabelsi",
    ]


def test_unmapped_users_are_named_by_timemoto() -> None:
    mapped = Person.of("u1", 3, ("Gharbi", "Mohamed"), ("Gharbi", "Mohammed"), "LP-9")
    unmapped = Person.of("u2", None, (None, None), ("Jlassi", "Syrine"), None)
    assert (mapped.nom, mapped.prenom, mapped.rattache) == ("Gharbi", "Mohamed", True)
    assert (unmapped.nom, unmapped.prenom, unmapped.rattache) == ("Jlassi", "Syrine", False)
    assert Person.of("u3", None, (None, None), (None, None), None).nom == ""


# -- xlsx ------------------------------------------------------------------------------------

SUMMARY_HEADERS = [
    "N° équipe",
    "Nom",
    "Prénom",
    "Rattaché à l'ERP",
    "Matricule",
    "Minutes travaillées",
    "Heures (H:MM)",
    "Heures (décimales)",
    "Jours travaillés",
    "Pointages",
    "Anomalies",
    "Provisoire",
    "Identifiant TimeMoto",
]


def full_payroll() -> Payroll:
    salma = person("Ben Ali", "Salma", "u1", 4)
    unmapped = Person("u2", None, 'O"Brien; fils', "Zoé", False, "LP-2")
    days = [
        DayRecord(
            "u1",
            date(2026, 11, 30),
            datetime(2026, 11, 30, 22, 0),
            datetime(2026, 12, 1, 6, 0, 30),
            30,
            450,
            4,
            0,
        ),
        DayRecord("u2", date(2026, 11, 2), None, datetime(2026, 11, 2, 17, 0), 0, 0, 1, 1),
    ]
    anomalies = [
        AnomalyRecord(
            "u2",
            date(2026, 11, 2),
            datetime(2026, 11, 2, 17, 0),
            "sortie",
            "sortie_sans_poste",
            "Africa/Tunis",
        )
    ]
    return build_payroll(
        NOVEMBER,
        AFTER,
        TUNIS,
        [record(salma, 450, date(2026, 11, 30)), record(unmapped, 0)],
        days,
        anomalies,
    )


def test_xlsx_sheets_headers_and_cells() -> None:
    body = render_xlsx(full_payroll())
    assert workbook_headers(body)["Récapitulatif"] == SUMMARY_HEADERS
    sheets = workbook_rows(body)
    assert list(sheets) == ["Récapitulatif", "Détail par jour", "Anomalies"]
    salma, zoe = sheets["Récapitulatif"]
    assert salma == {
        "N° équipe": 4,
        "Nom": "Ben Ali",
        "Prénom": "Salma",
        "Rattaché à l'ERP": "oui",
        "Matricule": "LP-014",
        "Minutes travaillées": 450,
        "Heures (H:MM)": timedelta(minutes=450),
        "Heures (décimales)": 7.5,
        "Jours travaillés": 20,
        "Pointages": 80,
        "Anomalies": 2,
        "Provisoire": "oui",
        "Identifiant TimeMoto": "u1",
    }
    assert (zoe["Nom"], zoe["N° équipe"], zoe["Rattaché à l'ERP"]) == ('O"Brien; fils', None, "non")
    night = sheets["Détail par jour"][0]
    assert night["Date"] == datetime(2026, 11, 30)  # a date cell (openpyxl reads a datetime)
    assert night["Première entrée"] == time(22, 0)
    assert night["Dernière sortie"] == time(6, 0, 30)
    assert night["Heures (H:MM)"] == timedelta(minutes=450)
    (anomaly,) = sheets["Anomalies"]
    assert anomaly["Motif"] == "sortie sans poste"
    assert anomaly["Pointage"] == "sortie"
    assert anomaly["Heure"] == time(17, 0)


def test_xlsx_layout() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(full_payroll())))
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2"
        assert (
            sheet.auto_filter.ref
            == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
        )
        for column in sheet.iter_cols():
            longest = max(len(c.value) for c in column if isinstance(c.value, str))
            width = sheet.column_dimensions[column[0].column_letter].width
            assert width >= min(longest, 60)  # text fits; numbers and dates are short
    summary = workbook["Récapitulatif"]
    formats = {summary.cell(1, c).value: summary.cell(2, c).number_format for c in range(1, 14)}
    assert formats["Minutes travaillées"] == "0"
    assert formats["Heures (H:MM)"] == "[h]:mm"
    assert formats["Heures (décimales)"] == "0.00"
    days = workbook["Détail par jour"]
    day_formats = {days.cell(1, c).value: days.cell(2, c).number_format for c in range(1, 14)}
    assert day_formats["Date"] == "dd/mm/yyyy"
    assert day_formats["Première entrée"] == "hh:mm"


def test_a_night_shift_exit_is_marked_on_the_next_day() -> None:
    """The 22:00 → 06:00 shift of 30/11: its exit reads `06:00 (+1 j)`, still a time cell; an
    exit on the work date itself is a bare time."""
    days = openpyxl.load_workbook(io.BytesIO(render_xlsx(full_payroll())))["Détail par jour"]
    headers = [cell.value for cell in days[1]]
    night, same_day = (dict(zip(headers, row, strict=True)) for row in days.iter_rows(min_row=2))
    assert night["Date"].value == datetime(2026, 11, 30)
    assert night["Dernière sortie"].value == time(6, 0, 30)
    assert night["Dernière sortie"].number_format == 'hh:mm" (+1 j)"'
    assert same_day["Dernière sortie"].value == time(17, 0)
    assert same_day["Dernière sortie"].number_format == "hh:mm"
    width = days.column_dimensions[night["Dernière sortie"].column_letter].width
    assert width >= len("06:00 (+1 j)")


def test_exit_times_as_shown() -> None:
    later = LaterTime(time(8, 27), 1)
    assert str(later) == "08:27 (+1 j)"
    assert str(LaterTime(time(1, 5), 2)) == "01:05 (+2 j)"


def test_an_empty_month_gives_headers_only() -> None:
    payroll = build_payroll(NOVEMBER, AFTER, TUNIS, [], [], [])
    body = render_xlsx(payroll)
    assert workbook_rows(body) == {"Récapitulatif": [], "Détail par jour": [], "Anomalies": []}
    assert workbook_headers(body)["Récapitulatif"] == SUMMARY_HEADERS
    assert csv_rows(render_csv(payroll)) == [SUMMARY_HEADERS]


def test_a_name_is_never_a_formula() -> None:
    payroll = a_payroll(record(person('=HYPERLINK("http://x")', "+1", equipe=None)))
    sheet = openpyxl.load_workbook(io.BytesIO(render_xlsx(payroll))).active
    assert sheet is not None
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == '=HYPERLINK("http://x")'
    rows = csv_rows(render_csv(payroll))
    assert rows[1][1:3] == ['\'=HYPERLINK("http://x")', "'+1"]


# -- csv -------------------------------------------------------------------------------------


def test_csv_opens_as_columns_in_french() -> None:
    body = render_csv(full_payroll())
    assert body.startswith(b"\xef\xbb\xbfN\xc2\xb0 \xc3\xa9quipe;Nom;")
    assert b"\r\n" in body
    header, salma, zoe = csv_rows(body)
    assert header == SUMMARY_HEADERS
    assert salma == [
        "4", "Ben Ali", "Salma", "oui", "LP-014", "450", "7:30", "7,50",
        "20", "80", "2", "oui", "u1",
    ]  # fmt: skip
    assert zoe[:5] == ["", 'O"Brien; fils', "Zoé", "non", "LP-2"]
    assert zoe[6:8] == ["0:00", "0,00"]
    assert b'"O""Brien; fils"' in body  # quoted as a spreadsheet expects


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


@settings(deadline=None)  # rendering a workbook is slow on a shared machine, not wrong
@given(nom=names, prenom=names)
def test_any_name_survives_a_round_trip(nom: str, prenom: str) -> None:
    payroll = a_payroll(record(person(nom, prenom, equipe=None)))
    row = csv_rows(render_csv(payroll))[1]

    def csv_form(text: str) -> str:
        return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text

    assert row[1:3] == [csv_form(nom), csv_form(prenom)]
    sheet = workbook_rows(render_xlsx(payroll))["Récapitulatif"]

    def cell_form(text: str) -> str:  # control characters dropped, line ends as XML keeps them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return "".join(c for c in text if c in "\t\n" or not (ord(c) < 32))

    assert (sheet[0]["Nom"] or "", sheet[0]["Prénom"] or "") == (cell_form(nom), cell_form(prenom))
