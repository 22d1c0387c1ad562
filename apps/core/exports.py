"""CSV and Excel export helpers.

Cells that a spreadsheet would read as a formula (``= + - @``, tab or carriage return first) get a
leading apostrophe, so an exported name like ``=HYPERLINK(...)`` stays text (CSV injection).
CSV is streamed row by row, so exporting 100k customers keeps memory flat; XLSX is written in
openpyxl's write-only mode to a temporary file.
"""

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Spreadsheet exports stop here (Excel's sheet limit is 1,048,576 rows and a workbook this size
# is already slow to open); CSV has no limit.
XLSX_MAX_ROWS = 200_000


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
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _xlsx_value(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, Decimal):
        return value
    return escape_cell(value)


def xlsx_file(*, title: str, header: Sequence[str], rows: Iterable[Sequence]):
    """Write rows to a temporary .xlsx file and return it, positioned at the start."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    ws.append([str(h) for h in header])
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
        filename=f"{filename}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )
