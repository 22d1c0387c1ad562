"""CSV and Excel export helpers.

Cells that a spreadsheet would read as a formula (``= + - @``, tab or carriage return first) stay
text (CSV injection): in CSV they get a leading apostrophe, the only way that format has; in XLSX
they are typed text cells with Excel's quote-prefix style, so ``=HYPERLINK(...)`` and a phone such
as ``+8613290809573`` read as they are, and stay text when someone edits the cell.
An XLSX export reads like a report: a bold, frozen header row with an autofilter, column widths
that fit the header and the first rows, dates as dates (naive, in the business time zone) and
amounts as numbers: a :class:`Money` cell carries the currency's number format (``"¥"#,##0.00``)
in XLSX and is a plain number in CSV, whose header names the currency instead (``money_header``).
Staff exports are reports for people: their headers are column titles in the reader's language and
their values are labels (``yes_no``, the choices' labels), never codes.
CSV is streamed row by row, so exporting 100k customers keeps memory flat; XLSX is written in
openpyxl's write-only mode to a temporary file.

The last line of defence for the text rule (``apps.core.text``): a spreadsheet cannot hold C0
control characters, so they are stripped from every cell (rows stored before the rule existed
must not break an export). Sheet titles (``sheet_title``) and download file names
(``export_filename``) go through one helper each.
"""

import csv
import datetime as dt
import itertools
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .formatting import currency_symbol
from .replica import reporting, reporting_iter

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Spreadsheet exports stop here: Excel's sheet holds 1,048,576 rows, less the header and the
# row that says the sheet was cut; CSV has no limit. (Exports this large are written by a
# worker, ``apps.core.export_jobs``, never in a request.)
XLSX_MAX_ROWS = 1_048_574
# Excel refuses these in a sheet's name, and a name longer than 31 characters.
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/?*:\[\]]")
SHEET_TITLE_MAX = 31
_FILENAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]+")
_HEADER_FONT = Font(bold=True)


@dataclass
class ExportRows:
    """An export ready to write: its header, a lazy row iterator, how many rows matched and
    whether a spreadsheet's row limit cut it short."""

    header: list[str]
    rows: Iterator[Sequence]
    count: int
    truncated: bool


_CENT = Decimal("0.01")


class Money(Decimal):
    """An amount of money in an export: a number with the currency's format in XLSX, a plain
    number (no symbol) in CSV."""


def money_cell(value) -> Money | None:
    """``value`` to the cent as a :class:`Money` cell (None stays empty)."""
    return None if value is None else Money(Decimal(value).quantize(_CENT))


def money_header(label) -> str:
    """A money column's title names its currency, as its cells do not in CSV: "Total (¥)"."""
    return f"{label} ({currency_symbol().strip()})"


def money_format() -> str:
    """Excel's number format for amounts in the configured currency: ``"¥"#,##0.00``."""
    symbol = currency_symbol().replace('"', "")
    return f'"{symbol}"#,##0.00'


def yes_no(value: bool | None) -> str:
    """A yes/no cell in the active language ("" when unknown)."""
    if value is None:
        return ""
    return _("Yes") if value else _("No")


def escape_cell(value):
    """Text that starts like a formula becomes inert text; numbers and dates stay typed."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_cell(value):
    """A cell value a spreadsheet can hold: C0 control characters stripped from text (formula-like
    text is left to the writer, which makes it inert its format's way); anything else as it is."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def spreadsheet_text(value):
    """A cell value a spreadsheet can hold, formula-like text made inert the CSV way."""
    return escape_cell(spreadsheet_cell(value))


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


# Written as str() writes them, which is what _csv_text does with them.
_CSV_AS_STR = frozenset({int, float, bool, Decimal, Money, dt.date})


def _csv_row(row: Sequence, tz) -> list[str]:
    """``_csv_text`` of each value, the common exact types dispatched once, without its checks,
    and times turned into ``tz`` (the current time zone, looked up once per export)."""
    out = []
    for value in row:
        kind = type(value)
        if kind is str:
            out.append("'" + value if value.startswith(FORMULA_PREFIXES) else value)
        elif value is None:
            out.append("")
        elif kind in _CSV_AS_STR:
            out.append(str(value))
        elif kind is dt.datetime:
            if value.utcoffset() is not None:
                value = value.astimezone(tz)
            out.append(value.isoformat(sep=" ", timespec="seconds"))
        else:
            out.append(_csv_text(value))
    return out


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The CSV text, a line at a time. The rows are read inside
    :func:`~apps.core.replica.reporting` (from the read replica when there is one): a streamed
    response iterates them after the view has returned, so each row is produced under it, and
    the code that iterates never runs under it."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM: Excel opens UTF-8 (Chinese names) correctly
    yield writer.writerow([_csv_text(h) for h in header])
    tz = timezone.get_current_timezone()
    for row in reporting_iter(rows):
        yield writer.writerow(_csv_row(row, tz))


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence]):
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(filename)}.csv"'
    return response


# Widths are measured on the header and this many rows (write-only sheets take widths before
# rows); CJK characters count double, as they are drawn twice as wide.
_WIDTH_SAMPLE_ROWS = 50
_WIDTH_MIN, _WIDTH_MAX = 8, 60
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_DATE_FORMAT = "yyyy-mm-dd"


def _xlsx_value(value):
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, Decimal):
        return value
    return spreadsheet_cell(value)


def _display_width(value) -> int:
    if isinstance(value, dt.date):
        text = value.strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, Money):
        text = f"{currency_symbol()}{value:,.2f}"
    else:
        text = str(value if value is not None else "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _xlsx_cell(ws, value, *, bold: bool = False, amount_format: str = "") -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_xlsx_value(value))
    if isinstance(cell.value, str):
        # Text is text: never a formula, whatever it starts with (openpyxl would write "=…"
        # as one), and the quote prefix keeps it text when someone edits the cell.
        cell.data_type = "s"
        cell.quotePrefix = cell.value.startswith(FORMULA_PREFIXES)
    elif isinstance(value, dt.datetime):
        cell.number_format = _DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.number_format = _DATE_FORMAT
    elif isinstance(value, Money):
        cell.number_format = amount_format or money_format()
    if bold:
        cell.font = _HEADER_FONT
    return cell


# Values openpyxl writes exactly as _xlsx_cell would, handed to it as they are: no cell object of
# our own, and openpyxl reuses one cell for them. Exact types only: a subclass (Money, a str
# subclass) takes _xlsx_cell's way.
_AS_IS = frozenset({int, float, bool, Decimal, dt.date, type(None)})
# Text openpyxl would not write as plain text: an error code is written as an error.
_ERROR_TEXT = frozenset(ERROR_CODES)


class _RowWriter:
    """Turns a row of values into what ``ws.append`` takes, typed and styled as ``_xlsx_cell``
    does it, at a fraction of the cost (a million-row export has fifteen million values):

    - one dispatch on the exact type per value; plain values (numbers, dates, text that does not
      start like a formula) go to openpyxl as they are;
    - styled cells (times, amounts, formula-like text) take a style array of the workbook made
      once, through the constructor openpyxl offers for it, not its style setters per cell; a
      time is bound without openpyxl's date-format check (the format is ours, and a date one);
    - the sheet takes our cells without first trying each as a value (``_values_to_row`` below).

    What is written is what ``_xlsx_cell`` writes (tests/core/test_exports_fast_path.py)."""

    def __init__(self, ws, amount_format: str):
        self.ws = ws
        self.tz = timezone.get_current_timezone()
        self.strip = ILLEGAL_CHARACTERS_RE.sub
        self.amount_format = amount_format
        # Each style array is taken from the first cell of its kind, made by _xlsx_cell, so a
        # workbook holds only the formats its cells use. (openpyxl has no public getter for a
        # cell's style array, only the constructor argument.)
        self.datetime_style = self.money_style = self.quoted_style = None
        # openpyxl's write-only sheet tries every appended value as a cell's value first and
        # takes a cell object only from the ValueError that raises (with the cell's repr): some
        # 5 µs per styled cell. This sheet takes cells as they are. Should openpyxl stop calling
        # this method, appending falls back to its own way, slower and the same.
        ws._values_to_row = self._values_to_row

    def _values_to_row(self, values: Sequence, row_idx: int) -> Iterator[Cell]:
        shared = WriteOnlyCell(self.ws)
        for column, value in enumerate(values, 1):
            if value is None:
                continue
            if value.__class__ is Cell:
                cell = value
            else:
                cell = shared
                cell.value = value
                if cell.has_style:  # openpyxl styled it (a date): it is this value's alone
                    shared = WriteOnlyCell(self.ws)
            cell.column = column
            cell.row = row_idx
            yield cell

    def __call__(self, row: Sequence) -> list:
        ws = self.ws
        out = []
        for value in row:
            kind = type(value)
            if kind is str:
                # Printable text holds no control character: the common case skips the regex.
                text = value if value.isprintable() else self.strip("", value)
                if text.startswith(FORMULA_PREFIXES):
                    if self.quoted_style is None:
                        cell = _xlsx_cell(ws, text)
                        self.quoted_style = cell._style
                    else:
                        cell = Cell(ws, row=1, column=1, style_array=self.quoted_style)
                        cell.value = text
                        cell.data_type = "s"  # openpyxl takes "=…" for a formula
                    out.append(cell)
                elif text in _ERROR_TEXT:
                    out.append(_xlsx_cell(ws, text))
                else:
                    out.append(text)
            elif kind in _AS_IS:
                # openpyxl gives a date its own "yyyy-mm-dd", which is ours (_DATE_FORMAT).
                out.append(value)
            elif kind is dt.datetime:
                if value.tzinfo is not None:
                    value = value.astimezone(self.tz).replace(tzinfo=None)
                if self.datetime_style is None:
                    cell = _xlsx_cell(ws, value)
                    self.datetime_style = cell._style
                else:
                    cell = Cell(ws, row=1, column=1, style_array=self.datetime_style)
                    cell._value, cell.data_type = value, "d"
                out.append(cell)
            elif kind is Money:
                if self.money_style is None:
                    cell = _xlsx_cell(ws, value, amount_format=self.amount_format)
                    self.money_style = cell._style
                else:
                    cell = Cell(ws, row=1, column=1, style_array=self.money_style)
                    cell.value = value
                out.append(cell)
            else:
                out.append(_xlsx_cell(ws, value, amount_format=self.amount_format))
        return out


def xlsx_file(*, title: str, header: Sequence[str], rows: Iterable[Sequence]):
    """Write rows to a temporary .xlsx file and return it, positioned at the start: a bold
    frozen header row with an autofilter, fitted column widths, typed cells.

    The rows are read inside :func:`~apps.core.replica.reporting` (from the read replica when
    there is one)."""
    with reporting():
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=sheet_title(title))
        rows = iter(rows)
        sample = list(itertools.islice(rows, _WIDTH_SAMPLE_ROWS))
        header = [str(h) for h in header]
        for index, name in enumerate(header, start=1):
            widest = max([_display_width(name), *(_display_width(r[index - 1]) for r in sample)])
            width = min(max(widest + 2, _WIDTH_MIN), _WIDTH_MAX)
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.append([_xlsx_cell(ws, name, bold=True) for name in header])
        convert = _RowWriter(ws, money_format())
        append = ws.append
        count = 0
        for row in itertools.chain(sample, rows):
            append(convert(row))
            count += 1
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"
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
