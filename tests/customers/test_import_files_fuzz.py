"""Fuzzing the import file readers (Hypothesis, derandomised and bounded for CI): whatever the
bytes, reading a file gives rows or a clear ImportFileError, never another exception; and a
well-formed CSV is read back exactly, cell for cell (strict parsing drops nothing)."""

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from apps.customers.importing.files import ImportFileError, data_rows, read_header
from apps.customers.importing.results import Errors

COLUMNS = ["first_name", "last_name", "email", "phone"]
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def read_all(path: Path) -> tuple[list, Errors]:
    errors = Errors()
    header = read_header(path, known=COLUMNS, required=[], errors=errors)
    rows = list(data_rows(path, header, errors)) if header is not None else []
    return rows, errors


def in_file(suffix: str, data: bytes):
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / f"fuzz{suffix}"
    path.write_bytes(data)
    return folder, path


@FUZZ
@given(st.text(alphabet=st.sampled_from('ab ,"\n\r\x00é\t'), max_size=80))
def test_any_csv_text_reads_as_rows_or_a_clear_error(body):
    folder, path = in_file(".csv", (",".join(COLUMNS) + "\n" + body).encode())
    with folder:
        try:
            rows, _errors = read_all(path)
        except ImportFileError as exc:
            assert exc.message
            return
    for _row_no, values in rows:
        assert list(values) == COLUMNS
        assert not any("\x00" in v for v in values.values())


cells = st.text(alphabet=st.characters(blacklist_characters="\x00\r", codec="utf-8"), max_size=8)


@FUZZ
@given(st.lists(st.lists(cells, min_size=4, max_size=4), max_size=6))
def test_a_well_formed_csv_is_read_back_exactly(table):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([COLUMNS, *table])
    folder, path = in_file(".csv", buffer.getvalue().encode())
    with folder:
        rows, errors = read_all(path)

    expected = [
        (n, dict(zip(COLUMNS, [c.strip() for c in row], strict=True)))
        for n, row in enumerate(table, start=2)
        if any(c.strip() for c in row)
    ]
    assert (rows, errors.messages) == (expected, [])


def _workbook_bytes() -> bytes:
    wb = Workbook()
    wb.active.append(COLUMNS)
    wb.active.append(["Ann", "Lee", "ann@example.com", "+86 139 1234 5678"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


WORKBOOK = _workbook_bytes()


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(WORKBOOK) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    )
)
def test_a_damaged_workbook_reads_as_rows_or_a_clear_error(changes):
    data = bytearray(WORKBOOK)
    for at, byte in changes:
        data[at] = byte
    folder, path = in_file(".xlsx", bytes(data))
    with folder:
        try:
            read_all(path)
        except ImportFileError as exc:
            assert exc.message
