"""The export writers' fast paths (issue 14's export benchmark) write what the plain way writes.

XLSX (``apps.core.exports._RowWriter``): as every value through ``_xlsx_cell``, appended by
openpyxl's own write-only sheet — the same sheet XML byte for byte, and cells that read the same.
CSV (``_csv_row``): as every value through ``_csv_text``."""

import csv
import datetime as dt
import io
import itertools
import zipfile
from decimal import Decimal

import pytest
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.safestring import mark_safe
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from apps.core.exports import (
    _WIDTH_MAX,
    _WIDTH_MIN,
    _WIDTH_SAMPLE_ROWS,
    _csv_text,
    _display_width,
    _Echo,
    _xlsx_cell,
    csv_lines,
    money_cell,
    money_format,
    xlsx_file,
)


class Colour(TextChoices):
    RED = "red", "Red"


AWARE = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)  # 07:30 the next day in Shanghai
VALUES = [
    "Zhang",
    "张伟",
    "",
    "+8613290809573",
    '=HYPERLINK("x")',
    "=",
    "-2",
    "@SUM",
    "\tx",
    "a\x07b",  # a control character, stripped
    "line\nbreak",
    "#N/A",  # an error code, still text
    "  padded  ",
    mark_safe("<b>safe</b>"),  # a str subclass
    Colour.RED,
    None,
    0,
    -7,
    2**40,
    1.5,
    True,
    False,
    Decimal("-12.50"),
    money_cell("88"),
    money_cell("-0.5"),
    dt.date(2024, 1, 2),
    dt.datetime(2026, 12, 4, 9, 30),
    AWARE,
]


def _plain(*, title: str, header: list[str], rows: list[list]) -> io.BytesIO:
    """The plain way (before the fast path): a cell per value, openpyxl's own append."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title)
    sample = rows[:_WIDTH_SAMPLE_ROWS]
    for index, name in enumerate(header, start=1):
        widest = max([_display_width(name), *(_display_width(r[index - 1]) for r in sample)])
        width = min(max(widest + 2, _WIDTH_MIN), _WIDTH_MAX)
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append([_xlsx_cell(ws, name, bold=True) for name in header])
    amount_format = money_format()
    for row in rows:
        ws.append([_xlsx_cell(ws, v, amount_format=amount_format) for v in row])
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def _written(f) -> tuple[bytes, list]:
    """The sheet's XML as written, and every cell as a reader sees it (value, type, number
    format, quote prefix, bold): the style table may number the same formats differently (in
    the order cells first needed them), the cells read the same."""
    data = f.read()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    ws = load_workbook(io.BytesIO(data)).active
    cells = [
        (c.coordinate, c.value, c.data_type, c.number_format, c.quotePrefix, c.font.b)
        for row in ws.iter_rows()
        for c in row
    ]
    return sheet, cells


@pytest.mark.parametrize("rotation", [0, 5, 11, 23])
def test_fast_path_writes_what_the_plain_way_writes(rotation):
    """Every kind of value, in several orders (the workbook's number formats are registered in
    the order values first need them), over more rows than the width sample."""
    row = VALUES[rotation:] + VALUES[:rotation]
    rows = [list(row) for _ in range(60)]
    rows[3] = list(reversed(row))
    header = [f"c{i}" for i in range(len(row))]
    with timezone.override("Asia/Shanghai"):
        ours = _written(xlsx_file(title="Mixed", header=header, rows=iter(rows)))
        plain = _written(_plain(title="Mixed", header=header, rows=rows))
    assert ours == plain


def test_fast_path_handles_rows_of_styled_values_only():
    rows = list(itertools.repeat([AWARE, money_cell("1"), "+86"], 3))
    with timezone.override("Asia/Shanghai"):
        ours = _written(xlsx_file(title="S", header=["a", "b", "c"], rows=rows))
        plain = _written(_plain(title="S", header=["a", "b", "c"], rows=rows))
    assert ours == plain


def test_csv_fast_path_writes_what_csv_text_writes():
    header = [f"c{i}" for i in range(len(VALUES))]
    with timezone.override("Asia/Shanghai"):
        lines = list(csv_lines(header, [VALUES, list(reversed(VALUES))]))
        plain = list(csv_lines(header, []))
        writer = csv.writer(_Echo())
        plain += [
            writer.writerow([_csv_text(v) for v in VALUES]),
            writer.writerow([_csv_text(v) for v in reversed(VALUES)]),
        ]
    assert lines == plain
    assert "2026-03-02 07:30:00" in lines[2]
