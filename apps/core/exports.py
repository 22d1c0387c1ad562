"""CSV and Excel export helpers.

Cells that a spreadsheet would read as a formula (``= + - @``, tab or carriage return first) get a
leading apostrophe, so an exported name like ``=HYPERLINK(...)`` stays text (CSV injection).
CSV is streamed row by row, so exporting 100k customers keeps memory flat; XLSX is written in
openpyxl's write-only mode to a temporary file.

The last line of defence for the text rule (``apps.core.text``): a spreadsheet cannot hold C0
control characters, so they are stripped from every cell (rows stored before the rule existed
must not break an export). Sheet titles (``sheet_title``) and download file names
(``export_filename``) go through one helper each.
"""

import csv
import datetime as dt
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Spreadsheet exports stop here (Excel's sheet limit is 1,048,576 rows and a workbook this size
# is already slow to open); CSV has no limit.
XLSX_MAX_ROWS = 200_000
# Excel refuses these in a sheet's name, and a name longer than 31 characters.
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/?*:\[\]]")
SHEET_TITLE_MAX = 31
_FILENAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ExportRows:
    """An export ready to write: its header, a lazy row iterator, how many rows matched and
    whether a spreadsheet's row limit cut it short."""

    header: list[str]
    rows: Iterator[Sequence]
    count: int
    truncated: bool


def escape_cell(value):
    """Text that starts like a formula becomes inert text; numbers and dates stay typed."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_text(value):
    """A cell value a spreadsheet can hold: C0 control characters stripped, formula-like text
    made inert; anything but text as it is."""
    if isinstance(value, str):
        return escape_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def sheet_title(title) -> str:
    """A valid sheet name for ``title``: ``: \\ / ? * [ ]`` and control characters become
    ``-``, at most 31 characters, no apostrophe at either end, never empty."""
    text = ILLEGAL_CHARACTERS_RE.sub("-", _SHEET_TITLE_FORBIDDEN.sub("-", str(title)))
    text = text[:SHEET_TITLE_MAX].strip().strip("'").strip()
    return text or "Sheet"


def export_filename(name: str) -> str:
    """A download name safe in a ``Content-Disposition`` header on every system: ASCII letters,
    digits, dot, dash and underscore; anything else becomes ``-``."""
    text = _FILENAME_FORBIDDEN.sub("-", name).strip("-.")
    return text[:150] or "export"


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.isoformat(sep=" ", timespec="seconds")
    return str(escape_cell(value) if isinstance(value, str) else value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM: Excel opens UTF-8 (Chinese names) correctly
    yield writer.writerow([_csv_text(h) for h in header])
    for row in rows:
        yield writer.writerow([_csv_text(v) for v in row])


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence]):
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(filename)}.csv"'
    return response


def _xlsx_value(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, Decimal):
        return value
    return spreadsheet_text(value)


def xlsx_file(*, title: str, header: Sequence[str], rows: Iterable[Sequence]):
    """Write rows to a temporary .xlsx file and return it, positioned at the start."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title(title))
    ws.append([spreadsheet_text(str(h)) for h in header])
    for row in rows:
        ws.append([_xlsx_value(v) for v in row])
    tmp = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by FileResponse)
    wb.save(tmp)
    tmp.seek(0)
    return tmp


def xlsx_response(*, filename: str, title: str, header: Sequence[str], rows: Iterable[Sequence]):
    return FileResponse(
        xlsx_file(title=title, header=header, rows=rows),
        as_attachment=True,
        filename=f"{export_filename(filename)}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )
