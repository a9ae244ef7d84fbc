"""Reading customer files: CSV (UTF-8 with or without BOM, Windows-1256) and XLSX.

Rows come out as lists of strings, one at a time, so a million-row file never
sits in memory. Headers are mapped to customer fields by alias (English and
Arabic), and callers may override or ignore any header.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from majlis.core.errors import FieldError, ValidationFailed
from majlis.core.i18n import normalize_text

FIELDS = (
    "kind",
    "name",
    "name_ar",
    "business_name",
    "business_name_ar",
    "email",
    "phone",
    "trn",
    "external_ref",
    "address_line1",
    "city",
    "emirate",
    "country",
    "business_type",
    "tags",
    "notes",
    "is_active",
)
ALIASES = {
    "name": ("full name", "customer name", "customer", "contact name", "الاسم بالانجليزي"),
    "name_ar": ("arabic name", "name arabic", "name (arabic)", "الاسم", "الاسم بالعربي"),
    "business_name": ("company", "company name", "business", "trade name", "organization"),
    "business_name_ar": ("company arabic", "arabic company name", "اسم الشركه", "الاسم التجاري"),
    "email": ("e-mail", "email address", "mail", "البريد الالكتروني", "البريد"),
    "phone": ("mobile", "telephone", "tel", "phone number", "mobile number", "الهاتف", "الجوال"),
    "trn": ("tax registration number", "vat number", "tax number", "الرقم الضريبي"),
    "external_ref": ("reference", "ref", "customer id", "external id", "account number"),
    "address_line1": ("address", "street", "العنوان"),
    "city": ("town", "المدينه"),
    "emirate": ("state", "region", "الاماره"),
    "business_type": ("type", "legal form", "company type"),
    "is_active": ("active", "status"),
}
CHUNK = 1 << 20
# A 1M-row customer sheet inflates to ~300 MiB at ~10:1; bombs reach 1000:1 and GiBs.
XLSX_MAX_INFLATED = 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200
DELIMITERS = (",", ";", "\t")
# Excel's way of keeping leading zeros in CSV: ="0501234567"
_EXCEL_TEXT = re.compile(r'^="(.*)"$')


def _header_key(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", normalize_text(header)).strip()


_ALIAS_INDEX = {
    _header_key(alias): field
    for field, aliases in ALIASES.items()
    for alias in (field, field.replace("_", " "), *aliases)
} | {_header_key(field): field for field in FIELDS}


def map_headers(headers: list[str], overrides: dict[str, str | None]) -> dict[int, str]:
    """Column index → customer field; `overrides` maps a header to a field, or None to skip."""
    unknown = [f for f in overrides.values() if f is not None and f not in FIELDS]
    if unknown:
        raise ValidationFailed.single("mapping", f"unknown field(s): {', '.join(unknown)}")
    mapping: dict[int, str] = {}
    for index, header in enumerate(headers):
        field = overrides[header] if header in overrides else _ALIAS_INDEX.get(_header_key(header))
        if field is not None and field not in mapping.values():
            mapping[index] = field
    if "name" not in mapping.values():
        raise ValidationFailed(
            [FieldError("file", f"no column maps to 'name' (headers: {', '.join(headers)})")]
        )
    return mapping


def suggested_fields(headers: list[str]) -> list[str | None]:
    """Each header's field by alias, as `map_headers` would pick it (the web wizard's defaults)."""
    suggested: list[str | None] = []
    for header in headers:
        field = _ALIAS_INDEX.get(_header_key(header))
        suggested.append(field if field not in suggested else None)
    return suggested


def detect_encoding(stream: IO[bytes]) -> str:
    """utf-8-sig when the whole file decodes as UTF-8, else Windows-1256 (Arabic Excel)."""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1256"
    stream.seek(0)
    return encoding


def clean_text(value: str) -> str:
    """A text cell without surrounding blanks, Excel's `="0501234567"` (text kept) unwrapped.

    Called for every cell of a file: the prefix test spares the regex on the cells
    that cannot match it (almost all), which halves the time to read a CSV.
    """
    text = value.strip()
    if not text.startswith("="):
        return text
    quoted = _EXCEL_TEXT.match(text)
    return quoted.group(1) if quoted else text


def clean_cell(value: object) -> str:
    if isinstance(value, str):
        return clean_text(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return clean_text(str(value))


@dataclass
class Sheet:
    headers: list[str]
    rows: Iterator[list[str]]
    encoding: str


def _delimiter(header_line: str) -> str:
    """Excel writes `;` or tabs in some locales: the header line tells which."""
    return max(DELIMITERS, key=header_line.count)


def _csv_sheet(stream: IO[bytes]) -> Sheet:
    encoding = detect_encoding(stream)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    header_line = text.readline()
    text.seek(0)
    rows = _csv_rows(csv.reader(text, delimiter=_delimiter(header_line)))
    return Sheet(next(rows, []), rows, encoding)


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """Cleaned non-empty rows; a structurally broken file is refused whole, with its line."""
    try:
        for row in reader:
            if any(row):
                yield [clean_text(c) for c in row]
    except csv.Error as exc:  # e.g. one cell over csv.field_size_limit() (128 KiB)
        line = getattr(reader, "line_num", "?")
        raise ValidationFailed([FieldError("file", f"line {line}: {exc}")]) from exc


def _refuse_zip_bombs(stream: IO[bytes]) -> None:
    """An XLSX is a zip: refuse one that would inflate far beyond any real spreadsheet."""
    stream.seek(0)
    try:
        members = zipfile.ZipFile(stream).infolist()
    except zipfile.BadZipFile as exc:
        raise ValidationFailed([FieldError("file", "not a valid XLSX file")]) from exc
    inflated = sum(member.file_size for member in members)
    packed = max(1, sum(member.compress_size for member in members))
    if inflated > XLSX_MAX_INFLATED or inflated / packed > XLSX_MAX_RATIO:
        message = f"refused: the XLSX would inflate to {inflated // (1024 * 1024)} MiB"
        raise ValidationFailed([FieldError("file", message)])
    stream.seek(0)


def _xlsx_sheet(stream: IO[bytes]) -> Sheet:
    _refuse_zip_bombs(stream)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (KeyError, ValueError, InvalidFileException) as exc:  # a zip, but not a workbook
        raise ValidationFailed([FieldError("file", "not a valid XLSX file")]) from exc
    rows = workbook.active.iter_rows(values_only=True)
    headers = [clean_cell(h) for h in next(rows, ())]
    cells = ([clean_cell(c) for c in row] for row in rows if any(c is not None for c in row))
    return Sheet(headers, cells, "xlsx")


def open_sheet(stream: IO[bytes], file_name: str) -> Sheet:
    """The header row and a lazy iterator of data rows of an uploaded file."""
    if Path(file_name).suffix.lower() in (".xlsx", ".xlsm"):
        return _xlsx_sheet(stream)
    return _csv_sheet(stream)
