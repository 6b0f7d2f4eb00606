"""TimeMoto's own export (Reports, CSV or Excel) read as punches (docs/contract.md §9). Pure: the
caller reads the file; this module turns its cells into punches, each with a deterministic event
id. The comparison with the clockings stored is reconcile.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.delivery import Punch
from service.domain.timemoto import TypePointage

IMPORT_PREFIX = "import:"

Field = Literal[
    "user_id", "name", "first_name", "last_name", "date", "time", "datetime", "type", "timezone",
    "ignored",
]  # fmt: skip
FIELDS: tuple[Field, ...] = (
    "user_id", "name", "first_name", "last_name", "date", "time", "datetime", "type", "timezone",
    "ignored",
)  # fmt: skip


def _label(text: str) -> str:
    """A header as compared: without case, accents or spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\ufeff", ""))
    return "".join(
        c for c in decomposed if not unicodedata.combining(c) and not c.isspace()
    ).lower()


_FIELD_LABELS: dict[Field, tuple[str, ...]] = {
    "user_id": ("User ID", "UserId", "ID utilisateur", "Identifiant"),
    "name": ("Name", "Nom"),
    "first_name": ("First name", "Prénom"),
    "last_name": ("Last name", "Nom de famille"),
    "date": ("Date",),
    "time": ("Time", "Heure"),
    "datetime": ("Date time", "Date et heure", "Timestamp"),
    "type": ("In/Out", "Type", "Clocking type", "Entrée/Sortie", "Action"),
    "timezone": ("Time zone", "Fuseau horaire"),
    "ignored": ("Ignored", "Ignoré"),
}
_DEFAULT_LABELS: dict[str, Field] = {
    _label(text): name for name, texts in _FIELD_LABELS.items() for text in texts
}

_TYPE_LABELS: dict[TypePointage, tuple[str, ...]] = {
    "entree": ("In", "Entrée", "Entree", "Clock in"),
    "sortie": ("Out", "Sortie", "Clock out"),
    "debut_pause": ("Break", "Pause", "Break start", "BreakStart", "Début de pause"),
    "fin_pause": ("Return", "Retour", "Break end", "BreakEnd", "Fin de pause"),
}
_TYPES: dict[str, TypePointage] = {
    _label(text): kind for kind, texts in _TYPE_LABELS.items() for text in texts
}
_YES = {"yes", "oui", "true", "vrai", "1", "y", "o"}
_NO = {"no", "non", "false", "faux", "0", "n", ""}

# TimeMoto's words for our types, as a delivery's `clockingType` spells them
_CLOCKING_TYPE = {
    "entree": "In",
    "sortie": "Out",
    "debut_pause": "BreakStart",
    "fin_pause": "BreakEnd",
}


class ExportError(ValueError):
    """One line: the file, the row and the column at fault."""

    def __init__(self, file: str, message: str, row: int | None = None, column: str | None = None):
        where = "".join(
            (f", row {row}" if row is not None else "", f", column {column!r}" if column else "")
        )
        super().__init__(f"{file}{where}: {message}")


def import_event_id(user_id: str, instant: datetime, kind: str, ignored: bool = False) -> str:
    """The event id of an imported punch: the same user, second and type give the same id. An
    ignored clocking has its own (TimeMoto keeps a double press as a second, ignored clocking of
    the same second and type: both come back)."""
    second = instant.astimezone(UTC).replace(microsecond=0).isoformat()
    text = f"{user_id}\x1f{second}\x1f{kind}" + ("\x1fignored" if ignored else "")
    return IMPORT_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_mapping(items: Sequence[str]) -> dict[str, Field]:
    """`--map COLUMN=FIELD` arguments: the column's label (as compared) and its field."""
    mapping: dict[str, Field] = {}
    for item in items:
        column, sep, name = item.rpartition("=")
        if not sep or not column.strip():
            raise ValueError(f"--map {item!r}: expected COLUMN=FIELD")
        wanted = name.strip().lower().replace("-", "_")
        if wanted not in FIELDS:
            raise ValueError(f"--map {item!r}: FIELD is one of {', '.join(FIELDS)}")
        mapping[_label(column)] = wanted
    return mapping


def decode_csv(file: str, body: bytes) -> list[list[Any]]:
    """A CSV's rows: UTF-8 with or without BOM, else Windows-1252; `,`, `;` or tab."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = body.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ExportError(file, "neither UTF-8 nor Windows-1252 text") from exc
    if "\x00" in text:
        raise ExportError(file, "not a CSV or XLSX file (binary content)")
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    if first.count(delimiter) == 0:
        raise ExportError(file, "not a CSV export: no `,`, `;` or tab in its header row", row=1)
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


@dataclass(frozen=True, slots=True)
class ExportPunch:
    """One clocking of the file, with where it was read."""

    row: int
    name: str | None
    punch: Punch


def read_rows(
    file: str,
    rows: Iterable[Sequence[Any]],
    default_zone: str,
    mapping: dict[str, Field] | None = None,
) -> list[ExportPunch]:
    """The punches of the file's rows (the first is the header; rows are numbered from 1 as a
    spreadsheet does). Raises ExportError at the first unreadable cell."""
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise ExportError(file, "the file is empty: no header row")
    columns = _columns(file, [("" if h is None else str(h)) for h in header], mapping or {})
    punches = []
    for number, cells in enumerate(rows, start=2):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        punches.append(_punch(file, number, columns, list(cells), default_zone))
    return punches


@dataclass(frozen=True, slots=True)
class _Columns:
    index: dict[Field, int]
    label: dict[Field, str]


def _columns(file: str, header: list[str], mapping: dict[str, Field]) -> _Columns:
    index: dict[Field, int] = {}
    label: dict[Field, str] = {}
    labels = [_label(h) for h in header]
    for position, (text, key) in enumerate(zip(header, labels, strict=True)):
        name = mapping.get(key) or _DEFAULT_LABELS.get(key)
        if name == "name" and key == _label("Nom") and "prenom" in labels:
            name = "last_name"  # Prénom + Nom
        if name is not None and name not in index:
            index[name], label[name] = position, text
    for key in mapping:
        if key not in labels:
            raise ExportError(file, f"--map names a column the file lacks: {key!r}", row=1)
    missing = [f for f in ("user_id", "type") if f not in index]
    if "datetime" not in index and "date" not in index:
        missing.append("date")
    if "datetime" not in index and "time" not in index:
        missing.append("time")
    if missing:
        raise ExportError(
            file,
            f"no column for {', '.join(missing)} (name it with --map COLUMN=FIELD)",
            row=1,
        )
    return _Columns(index, label)


def _punch(file: str, row: int, columns: _Columns, cells: list[Any], zone_name: str) -> ExportPunch:
    def cell(name: Field) -> Any:
        at = columns.index.get(name)
        return cells[at] if at is not None and at < len(cells) else None

    def fail(name: Field, message: str) -> ExportError:
        return ExportError(file, message, row=row, column=columns.label[name])

    user = _text(cell("user_id"))
    if not user:
        raise fail("user_id", "no user id")
    kind = _TYPES.get(_label(_text(cell("type"))))
    if kind is None:
        raise fail("type", f"unknown clocking type {_text(cell('type'))!r}")
    if "timezone" in columns.index and _text(cell("timezone")):
        zone_name = _text(cell("timezone"))
    try:
        zone: tzinfo = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail("timezone", f"unknown time zone {zone_name!r}") from exc
    if "datetime" in columns.index:
        try:
            local = _datetime(cell("datetime"))
        except ValueError as exc:
            raise fail("datetime", str(exc)) from exc
    else:
        try:
            day = _date(cell("date"))
        except ValueError as exc:
            raise fail("date", str(exc)) from exc
        try:
            local = datetime.combine(day, _time(cell("time")))
        except ValueError as exc:
            raise fail("time", str(exc)) from exc
    ignored = _label(_text(cell("ignored")))
    if ignored not in _YES | _NO:
        raise fail("ignored", f"expected yes or no, not {_text(cell('ignored'))!r}")
    instant = local.replace(tzinfo=zone)
    name = _name(_text(cell("name")), _text(cell("first_name")), _text(cell("last_name")))
    payload = {
        "source": "reconcile",
        "file": file,
        "row": row,
        "data": {
            "userId": user,
            "userName": name,
            "timeLogged": local.isoformat(),
            "timeZone": zone_name,
            "clockingType": _CLOCKING_TYPE[kind],
            "recordIgnored": ignored in _YES,
        },
    }
    punch = Punch(
        event_id=import_event_id(user, instant, kind, ignored in _YES),
        timemoto_user_id=user,
        type_pointage=kind,
        horodatage=instant,
        horodatage_brut=instant,
        fuseau_horaire=zone_name,
        date_travail=local.date(),
        ignore=ignored in _YES,
        payload=payload,
    )
    return ExportPunch(row, name, punch)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _name(name: str, first: str, last: str) -> str | None:
    return name or " ".join(p for p in (first, last) if p) or None


_EXCEL_EPOCH = datetime(1899, 12, 30)
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_HMS = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def _excel(serial: float) -> datetime:
    if not 1 <= serial < 2958466:  # 1900-01-01 .. 9999-12-31
        raise ValueError(f"not a date: {serial!r}")
    return (_EXCEL_EPOCH + timedelta(days=serial)).replace(microsecond=0)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel(float(value)).date()
    text = _text(value)
    for pattern, order in ((_DMY, (2, 1, 0)), (_YMD, (0, 1, 2))):
        if match := pattern.fullmatch(text):
            year, month, day = (int(match.group(i + 1)) for i in order)
            try:
                return date(year, month, day)
            except ValueError:
                break
    raise ValueError(f"not a date (dd/mm/yyyy or yyyy-mm-dd): {text!r}")


def _time(value: Any) -> time:
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    if isinstance(value, timedelta):
        value = value.total_seconds() / 86400
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        return (_EXCEL_EPOCH + timedelta(days=float(value))).time().replace(microsecond=0)
    text = _text(value)
    if (match := _HMS.fullmatch(text)) and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        second = int(match.group(3) or 0)
        if second < 60:
            return time(int(match.group(1)), int(match.group(2)), second)
    raise ValueError(f"not a time (hh:mm or hh:mm:ss): {text!r}")


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel(float(value))
    text = _text(value).replace("T", " ")
    day, _, clock = text.partition(" ")
    return datetime.combine(_date(day), _time(clock.strip()))
