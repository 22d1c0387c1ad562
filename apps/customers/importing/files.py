"""Reading import files: ``.csv`` (UTF-8, with or without BOM) or ``.xlsx``, header first;
what an upload may be; the row count for a progress bar.

Files are read strictly: nothing in a file is silently dropped, merged, padded or blanked. A
malformed quote, a row with more or fewer cells than the header, a NUL character or an XLSX
formula is a ``row N, column C: reason`` error. An XLSX file is a zip: its entries are checked
(unpacked size, compression ratio, one worksheet, declared rows) before it is parsed, and it
is then streamed (openpyxl's read-only mode), so a decompression bomb is refused unopened.

An uploaded file lives in the private storage (``stored_file_copy`` reads it from there)."""

import csv
import datetime as dt
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from apps.core.exceptions import ValidationFailed
from apps.core.private_files import private_storage

from .results import Errors

ALLOWED_EXTENSIONS = (".csv", ".xlsx")
# An XLSX entry that unpacks to more than this many times its packed size (and to more than
# RATIO_FLOOR bytes, so tiny entries do not count) is a decompression bomb: real sheets pack
# 5-20 times.
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR = 1024 * 1024
# A row is built cell by cell up to its last cell: this bounds the work one row can cause.
MAX_XLSX_COLUMNS = 256
# What a damaged workbook raises from zipfile, zlib, the XML parser or openpyxl.
BROKEN_XLSX = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    OSError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
)
_WORKSHEET_RE = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_DIMENSION_RE = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"(?:[A-Z]+\d+:)?[A-Z]+(\d+)\"")


class ImportFileError(ValidationFailed):
    code = "import_file_invalid"


class Formula(str):
    """The text of an XLSX formula cell: the importers refuse it (its value is not stored)."""


def import_upload_check(*, name: str, size: int) -> str:
    """The lower-cased extension of an acceptable upload; ValidationFailed otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_EXTENSIONS:
        raise ValidationFailed(_("Only .csv and .xlsx files can be imported."))
    if size > settings.IMPORT_MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            _("The file is larger than %(mb)s MB.")
            % {"mb": settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    return suffix


@contextmanager
def stored_file_copy(name: str) -> Iterator[Path]:
    """A local copy of the private-storage file ``name`` (an upload: ``imports/<job><ext>``),
    for the readers here: zipfile and openpyxl's read-only mode seek, and a pass reads the file
    more than once. The copy is a temporary file of this process, deleted when the ``with``
    ends; the storage may be on another machine (S3). FileNotFoundError when ``name`` is gone.
    """
    with (
        private_storage().open(name, "rb") as source,
        tempfile.NamedTemporaryFile(prefix="import-", suffix=Path(name).suffix.lower()) as copy,
    ):
        shutil.copyfileobj(source, copy)
        copy.flush()
        yield Path(copy.name)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time.min and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def cell_error(row: int, column: str, reason: str) -> str:
    return _("row %(row)s, column %(column)s: %(reason)s") % {
        "row": row,
        "column": column,
        "reason": reason,
    }


def column_label(header: list[str], index: int) -> str:
    """The header's name of the 0-based column ``index``, or its letter when it has none."""
    if index < len(header) and header[index] and "\x00" not in header[index]:
        return header[index]
    return get_column_letter(index + 1)


def xlsx_check(path: Path) -> None:
    """Refuse a workbook that would take too much memory or time to parse, from its zip
    directory and the first bytes of its worksheet, before openpyxl opens it."""
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        sheets = [e for e in entries if _WORKSHEET_RE.match(e.filename)]
        # openpyxl loads every part whole except the worksheet, which it streams: the parts
        # bound the memory, the worksheet (with the row limit) the time.
        sheet_bytes = sum(e.file_size for e in sheets)
        max_bytes = settings.IMPORT_MAX_UNPACKED_BYTES
        if sum(e.file_size for e in entries) - sheet_bytes > max_bytes:
            raise ImportFileError(
                _("The workbook unpacks to more than %(mb)s MB besides its worksheet.")
                % {"mb": max_bytes // 2**20}
            )
        if sheet_bytes > settings.IMPORT_MAX_SHEET_BYTES:
            raise ImportFileError(
                _("The worksheet unpacks to more than %(mb)s MB; split it or import it as CSV.")
                % {"mb": settings.IMPORT_MAX_SHEET_BYTES // 2**20}
            )
        for entry in entries:
            if entry.file_size > RATIO_FLOOR and entry.file_size > MAX_COMPRESSION_RATIO * max(
                entry.compress_size, 1
            ):
                raise ImportFileError(
                    _("The workbook is compressed suspiciously well (%(name)s); it is refused.")
                    % {"name": entry.filename}
                )
        if len(sheets) > 1:
            raise ImportFileError(
                _("The workbook has %(n)s worksheets; an import file has one.") % {"n": len(sheets)}
            )
        if sheets:
            with archive.open(sheets[0]) as fh:
                head = fh.read(4096)
            found = _DIMENSION_RE.search(head)
            if found and int(found.group(1)) > settings.IMPORT_MAX_ROWS + 1:
                raise _too_many_rows()


def _too_wide() -> str:
    return _("the sheet has cells beyond column %(column)s; an import file has fewer columns") % {
        "column": get_column_letter(MAX_XLSX_COLUMNS)
    }


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _("The file has more than %(n)s rows; split it.") % {"n": settings.IMPORT_MAX_ROWS}
    )


def raw_rows(path: Path) -> Iterator[list[str]]:
    """Every row of the file (header first) as a list of stripped strings; an XLSX formula
    cell is a ``Formula``. A malformed CSV quote raises ImportFileError naming its row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            yield from _csv_rows(path)
        except UnicodeDecodeError as exc:
            raise ImportFileError(_("The file is not UTF-8 text.")) from exc
    elif suffix == ".xlsx":
        try:
            yield from _xlsx_rows(path)
        except (ImportFileError, FileNotFoundError):
            raise
        except BROKEN_XLSX as exc:
            raise ImportFileError(_("The file is not a readable .xlsx workbook.")) from exc
    else:
        raise ImportFileError(_("Only .csv and .xlsx files can be imported."))


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    xlsx_check(path)
    # data_only=False: a formula cell shows its formula, so it can be refused rather than
    # read as the blank its uncached value would be.
    wb = load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = wb.worksheets[0]
        # Not the declared dimension (checked already): read-only openpyxl would stop at its
        # last row, silently dropping any rows a wrong one leaves out.
        sheet.reset_dimensions()
        for row_no, row in enumerate(sheet.iter_rows(), start=1):
            if len(row) > MAX_XLSX_COLUMNS:
                raise ImportFileError(cell_error(row_no, get_column_letter(len(row)), _too_wide()))
            yield [Formula(str(c.value)) if c.data_type == "f" else cell_text(c.value) for c in row]
    finally:
        wb.close()


class _LineTap:
    """The file's lines as csv.reader reads them, keeping those of the current record."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.taken: list[str] = []

    def __iter__(self) -> "_LineTap":
        return self

    def __next__(self) -> str:
        line = next(self.fh)
        self.taken.append(line)
        return line


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        tap = _LineTap(fh)
        reader = csv.reader(tap, strict=True)
        header: list[str] = []
        row_no = 0
        while True:
            tap.taken = []
            row_no += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                index, reason = _quote_problem("".join(tap.taken))
                raise ImportFileError(
                    cell_error(row_no, column_label(header, index), reason or str(exc))
                ) from exc
            cells = [c.strip() for c in row]
            if row_no == 1:
                header = [re.sub(r"\s+", "_", c.lower()) for c in cells]
            yield cells


def _quote_problem(text: str) -> tuple[int, str | None]:
    """(0-based column, reason) of what csv.reader refused in one CSV record's text: a bad
    quote, or a cell longer than csv.field_size_limit()."""
    limit = csv.field_size_limit()
    column, i, field_start, start = 0, 0, 0, True
    while i < len(text):
        char = text[i]
        if start and char == '"':
            end = i + 1
            while (end := text.find('"', end)) != -1 and text[end + 1 : end + 2] == '"':
                end += 2
            if end == -1:
                return column, _("a quoted value is never closed (a quote is missing)")
            if text[end + 1 : end + 2] not in (",", "\r", "\n", ""):
                return column, _("a closing quote must be followed by a comma or a line end")
            i, start = end + 1, False
            continue
        if char in ",\r\n":
            if i - field_start > limit:
                break
            if char != ",":
                return column, None
            column, start, field_start = column + 1, True, i + 1
        else:
            start = False
        i += 1
    if i - field_start > limit:
        return column, _("a cell is longer than %(n)s characters") % {"n": limit}
    return column, None


def read_header(
    path: Path, *, known: list[str], required: list[str], errors: Errors
) -> list[str] | None:
    rows = raw_rows(path)
    header = next(rows, None)
    if header is None:
        raise ImportFileError(_("The file is empty."))
    names = [re.sub(r"\s+", "_", h.strip().lower()) for h in header]
    while names and not names[-1]:
        names.pop()
    seen: set[str] = set()
    for index, name in enumerate(names):
        if "\x00" in name:
            errors.add(1, get_column_letter(index + 1), _("contains a NUL character"))
        elif isinstance(header[index], Formula):
            errors.add(1, get_column_letter(index + 1), _formula_reason())
        elif not name:
            errors.add(1, "-", _("a column has no name"))
        elif name not in known:
            errors.add(1, name, _("unknown column"))
        elif name in seen:
            errors.add(1, name, _("the column appears twice"))
        seen.add(name)
    for name in required:
        if name not in seen:
            errors.add(1, name, _("missing column"))
    return names if errors.count == 0 else None


def nul_problems(values: dict[str, str]) -> list[tuple[str, str]]:
    """[(column, reason)] for the cells of one row that hold a NUL character (PostgreSQL
    cannot store it); for rows read by django-import-export."""
    return [(c, _("contains a NUL character")) for c, v in values.items() if "\x00" in v]


def _formula_reason() -> str:
    return _("formulas are not imported; paste the values")


def data_rows(
    path: Path, header: list[str], errors: Errors
) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column: text}) for every non-blank data row. A row that cannot
    be read as it stands is added to ``errors`` and left out: a CSV row with more or fewer
    cells than the header line, a value under no header, a NUL character, a formula. Past
    settings.IMPORT_MAX_ROWS rows the file is refused (ImportFileError)."""
    width = len(header)
    rows = raw_rows(path)
    header_cells = next(rows, None) or []
    strict_width = len(header_cells) if path.suffix.lower() == ".csv" else None
    last = settings.IMPORT_MAX_ROWS + 1
    for index, cells in enumerate(rows, start=2):
        if index > last:
            raise _too_many_rows()
        if not any(cells):
            continue
        if strict_width is not None and len(cells) != strict_width:
            at = min(len(cells), strict_width)
            errors.add(
                index,
                column_label(header, at),
                _("the row has %(n)s cells but the header has %(m)s")
                % {"n": len(cells), "m": strict_width},
            )
            continue
        problems = []
        for at, cell in enumerate(cells):
            if isinstance(cell, Formula):
                problems.append((at, _formula_reason()))
            elif "\x00" in cell:
                problems.append((at, _("contains a NUL character")))
            elif at >= width and cell:
                problems.append((at, _("a value in a column without a name")))
        for at, reason in problems:
            errors.add(index, column_label(header, at), reason)
        if problems:
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield index, dict(zip(header, cells, strict=False))


def rows_estimate(path: Path) -> int:
    """Data rows in the file, for the dry run's progress bar only (blank rows count too)."""
    try:
        if path.suffix.lower() == ".xlsx":
            xlsx_check(path)
            wb = load_workbook(path, read_only=True)
            try:
                return max(0, (wb.worksheets[0].max_row or 1) - 1)
            finally:
                wb.close()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return max(0, sum(1 for _row in csv.reader(fh)) - 1)
    except (csv.Error, ImportFileError, *BROKEN_XLSX):
        return 0  # the importer reports what is wrong with the file
