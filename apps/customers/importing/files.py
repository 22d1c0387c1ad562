"""Reading import files: ``.csv`` (UTF-8, with or without BOM) or ``.xlsx``, header first;
what an upload may be; the row count for a progress bar."""

import csv
import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from apps.core.exceptions import ValidationFailed

from .results import Errors

ALLOWED_EXTENSIONS = (".csv", ".xlsx")


class ImportFileError(ValidationFailed):
    code = "import_file_invalid"


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


def raw_rows(path: Path) -> Iterator[list[str]]:
    """Every row of the file (header first) as a list of stripped strings."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                for row in csv.reader(fh):
                    yield [c.strip() for c in row]
        elif suffix == ".xlsx":
            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                for row in wb.worksheets[0].iter_rows(values_only=True):
                    yield [cell_text(v) for v in row]
            finally:
                wb.close()
        else:
            raise ImportFileError(_("Only .csv and .xlsx files can be imported."))
    except UnicodeDecodeError as exc:
        raise ImportFileError(_("The file is not UTF-8 text.")) from exc
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from exc
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ImportFileError(_("The file is not a readable .xlsx workbook.")) from exc


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
    for name in names:
        if not name:
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


def data_rows(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column: text}) for every non-blank data row."""
    width = len(header)
    rows = raw_rows(path)
    next(rows, None)
    for index, cells in enumerate(rows, start=2):
        if not any(cells):
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield index, dict(zip(header, cells, strict=False))


def rows_estimate(path: Path) -> int:
    """Data rows in the file, for the dry run's progress bar only (blank rows count too)."""
    try:
        if path.suffix.lower() == ".xlsx":
            wb = load_workbook(path, read_only=True)
            try:
                return max(0, (wb.worksheets[0].max_row or 1) - 1)
            finally:
                wb.close()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return max(0, sum(1 for _row in csv.reader(fh)) - 1)
    except (OSError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile, KeyError, IndexError):
        return 0  # the importer reports what is wrong with the file
