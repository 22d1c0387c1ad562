"""Import files are read strictly: malformed CSV, rows wider or narrower than the header, NUL
characters and XLSX formulas are ``row N, column C`` errors; XLSX decompression bombs, extra
worksheets and runaway row counts are refused before the workbook is parsed."""

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from apps.customers.importing import files
from apps.customers.importing.customers import customers_import
from apps.customers.importing.files import ImportFileError
from apps.customers.importing.orders import orders_import
from apps.customers.models import ConsentRecord, Customer, Order
from tests.customers.factories import StoreFactory

pytestmark = pytest.mark.django_db

HEADER = "first_name,last_name,email,phone\n"
ANN = "Ann,Lee,ann@example.com,+86 139 1234 5678\n"
BOB = "Bob,Wu,bob@example.com,+86 139 1234 5679\n"


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts() -> tuple[int, int]:
    return Customer.objects.count(), ConsentRecord.objects.count()


def dry_errors(path: Path) -> list[str]:
    result = customers_import(path=path, dry_run=True)
    assert result.error_count == len(result.errors) and result.created == 0
    return result.errors


# --- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_nul_character_in_a_cell_is_a_row_error_and_nothing_is_written(tmp_path, dry_run):
    path = write(tmp_path, HEADER + ANN + "Bo\x00b,Wu,bob@example.com,+86 139 1234 5679\n")

    result = customers_import(path=path, dry_run=dry_run)

    assert result.errors == ["row 3, column first_name: contains a NUL character"]
    assert counts() == (0, 0)


def test_a_nul_character_in_the_header_names_the_column_by_letter(tmp_path):
    path = write(tmp_path, "first_name,last_na\x00me,email,phone\n" + ANN)

    assert dry_errors(path)[0] == "row 1, column B: contains a NUL character"


# --- strict CSV ---------------------------------------------------------------------------------


def test_an_unterminated_quote_is_an_error_not_a_merged_cell(tmp_path):
    path = write(tmp_path, HEADER + ANN + 'Bob,"Wu,bob@example.com,+86 139 1234 5679\n' + ANN)

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == (
        "row 3, column last_name: a quoted value is never closed (a quote is missing)"
    )
    assert counts() == (0, 0)


def test_text_after_a_closing_quote_is_an_error(tmp_path):
    path = write(tmp_path, HEADER + 'Bob,"Wu"x,bob@example.com,+86 139 1234 5679\n')

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=False)

    assert caught.value.message == (
        "row 2, column last_name: a closing quote must be followed by a comma or a line end"
    )
    assert counts() == (0, 0)


def test_an_overlong_cell_is_an_error(tmp_path):
    path = write(tmp_path, HEADER + "Ann," + "x" * 200_000 + ",ann@example.com,\n")

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == (
        "row 2, column last_name: a cell is longer than 131072 characters"
    )


def test_quoted_cells_with_commas_quotes_and_line_breaks_are_read(tmp_path):
    path = write(
        tmp_path, HEADER + '"Ann, ""Annie""","Lee\nJr",ann@example.com,+86 139 1234 5678\n'
    )

    result = customers_import(path=path, dry_run=False)

    assert result.ok, result.errors
    assert Customer.objects.values_list("first_name", "last_name").get() == (
        'Ann, "Annie"',
        "Lee\nJr",
    )


def test_a_row_with_more_cells_than_the_header_is_an_error(tmp_path):
    path = write(tmp_path, HEADER + ANN + BOB.strip() + ",extra\n")

    assert dry_errors(path) == ["row 3, column E: the row has 5 cells but the header has 4"]
    assert customers_import(path=path, dry_run=False).created == 0
    assert counts() == (0, 0)


def test_a_row_with_fewer_cells_than_the_header_is_an_error(tmp_path):
    path = write(tmp_path, HEADER + "Ann,Lee,ann@example.com\n" + BOB)

    assert dry_errors(path) == ["row 2, column phone: the row has 3 cells but the header has 4"]


def test_every_bad_row_is_listed_and_blank_lines_keep_their_number(tmp_path):
    path = write(tmp_path, HEADER + "Ann,Lee\n\n" + BOB.strip() + ",x,y\n")

    assert dry_errors(path) == [
        "row 2, column email: the row has 2 cells but the header has 4",
        "row 4, column E: the row has 6 cells but the header has 4",
    ]


def test_an_orders_row_with_extra_cells_is_an_error(tmp_path):
    StoreFactory(code="sh-01")
    path = write(
        tmp_path,
        "external_id,store,placed_at,total,member_number\nA-1,sh-01,2025-01-02,10,,\n",
        name="orders.csv",
    )

    result = orders_import(path=path, dry_run=False)

    assert result.errors == ["row 2, column F: the row has 6 cells but the header has 5"]
    assert Order.objects.count() == 0


def test_a_file_past_the_row_limit_is_refused_while_streaming(tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 2
    path = write(tmp_path, HEADER + ANN + BOB + ANN)

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == "The file has more than 2 rows; split it."


# --- XLSX ---------------------------------------------------------------------------------------


def test_an_xlsx_formula_is_an_error_not_a_blank(tmp_path):
    wb = Workbook()
    wb.active.append(["first_name", "last_name", "email", "phone"])
    wb.active.append(["Ann", "Lee", '=LOWER("ANN@EXAMPLE.COM")', "+86 139 1234 5678"])
    path = tmp_path / "people.xlsx"
    wb.save(path)

    result = customers_import(path=path, dry_run=False)

    assert result.errors == ["row 2, column email: formulas are not imported; paste the values"]
    assert counts() == (0, 0)


def test_an_xlsx_value_under_no_header_is_an_error(tmp_path):
    wb = Workbook()
    wb.active.append(["first_name", "last_name", "email", "phone"])
    wb.active.append(["Ann", "Lee", "ann@example.com", "+86 139 1234 5678", "stray"])
    path = tmp_path / "people.xlsx"
    wb.save(path)

    assert dry_errors(path) == ["row 2, column E: a value in a column without a name"]


SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def build_xlsx(path: Path, *, sheets: list[str], shared: str = "") -> Path:
    """A minimal workbook written with zipfile directly (openpyxl would not write a bomb)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{ct}.worksheet+xml"/>'
            for n in range(1, len(sheets) + 1)
        )
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
            '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            f"{overrides}</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            + "".join(
                f'<sheet name="S{n}" sheetId="{n}" r:id="rId{n}"/>'
                for n in range(1, len(sheets) + 1)
            )
            + "</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{pkg}">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="{rel}/worksheet" '
                f'Target="worksheets/sheet{n}.xml"/>'
                for n in range(1, len(sheets) + 1)
            )
            + f'<Relationship Id="rId99" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<?xml version="1.0"?><sst xmlns="{main}" count="1" uniqueCount="1">'
            f"<si><t>{shared}</t></si></sst>",
        )
        for n, body in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{n}.xml", SHEET_HEAD + body + "</worksheet>")
    return path


HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>first_name</t></is></c>'
    '<c r="B1" t="s"><v>0</v></c></row>'
)


@pytest.fixture
def unparsed(monkeypatch):
    """Fails the test if openpyxl is asked to open the workbook."""

    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(files, "load_workbook", refuse)


def test_a_workbook_built_here_is_read(tmp_path):
    path = build_xlsx(tmp_path / "ok.xlsx", sheets=[f"<sheetData>{HEADER_ROW}</sheetData>"])

    assert list(files.raw_rows(path)) == [["first_name", ""]]


def test_a_decompression_bomb_is_refused_before_parsing(tmp_path, unparsed):
    # 20 MB of one repeated character packs to some 20 KB: a ratio of about 1,000.
    body = f"<sheetData>{HEADER_ROW}</sheetData>"
    path = build_xlsx(tmp_path / "bomb.xlsx", sheets=[body], shared="A" * 20_000_000)
    assert path.stat().st_size < 100_000

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == (
        "The workbook is compressed suspiciously well (xl/sharedStrings.xml); it is refused."
    )
    assert counts() == (0, 0)


def test_a_workbook_that_unpacks_past_the_limit_is_refused(tmp_path, settings, unparsed):
    settings.IMPORT_MAX_UNPACKED_BYTES = 2 * 1024 * 1024
    shared = Path(__file__).read_text() * 200  # varied text: packs only a few times over
    path = build_xlsx(tmp_path / "big.xlsx", sheets=["<sheetData/>"], shared=shared[:3_000_000])

    assert files.rows_estimate(path) == 0  # the progress bar's count refuses it too
    with pytest.raises(ImportFileError) as caught:
        list(files.raw_rows(path))

    assert caught.value.message == "The workbook unpacks to more than 2 MB besides its worksheet."


def test_a_worksheet_that_unpacks_past_its_limit_is_refused(tmp_path, settings, unparsed):
    settings.IMPORT_MAX_SHEET_BYTES = 1024 * 1024
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>name {n}</t></is></c></row>'
        for n in range(1, 20_001)
    )
    path = build_xlsx(tmp_path / "long.xlsx", sheets=[f"<sheetData>{rows}</sheetData>"])

    with pytest.raises(ImportFileError) as caught:
        list(files.raw_rows(path))

    assert caught.value.message == (
        "The worksheet unpacks to more than 1 MB; split it or import it as CSV."
    )


def test_a_workbook_with_two_worksheets_is_refused(tmp_path, unparsed):
    path = build_xlsx(tmp_path / "two.xlsx", sheets=["<sheetData/>", "<sheetData/>"])

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == "The workbook has 2 worksheets; an import file has one."


def test_a_worksheet_declaring_too_many_rows_is_refused_before_parsing(tmp_path, unparsed):
    path = build_xlsx(tmp_path / "rows.xlsx", sheets=['<dimension ref="A1:B3000000"/><sheetData/>'])

    with pytest.raises(ImportFileError) as caught:
        customers_import(path=path, dry_run=True)

    assert caught.value.message == "The file has more than 1000000 rows; split it."


def test_a_worksheet_with_rows_past_its_declared_dimension_is_read_whole(tmp_path):
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{name}</t></is></c></row>'
        for n, name in enumerate(["first_name", "Ann", "Bob"], start=1)
    )
    path = build_xlsx(
        tmp_path / "lying.xlsx", sheets=[f'<dimension ref="A1:A2"/><sheetData>{rows}</sheetData>']
    )

    assert list(files.raw_rows(path)) == [["first_name"], ["Ann"], ["Bob"]]


def test_a_row_reaching_far_right_is_refused(tmp_path):
    path = build_xlsx(
        tmp_path / "wide.xlsx",
        sheets=[f'<sheetData>{HEADER_ROW}<row r="2"><c r="XFD2" s="0"/></row></sheetData>'],
    )

    with pytest.raises(ImportFileError) as caught:
        list(files.raw_rows(path))

    assert caught.value.message == (
        "row 2, column XFD: the sheet has cells beyond column IV; an import file has fewer columns"
    )
