"""The text rule (apps.core.text) and what exports do with text a format cannot hold
(apps.core.exports): control characters refused at the boundary, stripped on the way out."""

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.child import INVALID_TITLE_REGEX

from apps.core.exceptions import ValidationFailed
from apps.core.exports import export_filename, sheet_title, spreadsheet_text, xlsx_file
from apps.core.text import instance_text_problems, text_check, text_problem, text_problems
from apps.customers.models import Interaction

BELL_MESSAGE = (
    "This text contains an invisible control character (U+0007) that cannot be stored; remove it."
)
REFUSED = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]


@pytest.mark.parametrize("char", REFUSED)
def test_every_c0_control_but_tab_newline_and_cr_is_refused(char):
    assert text_problem(f"Ann{char}") is not None
    assert text_problem(f"Ann{char}", multiline=True) is not None


def test_the_message_names_the_character():
    assert text_problem("Ann\u0007") == BELL_MESSAGE
    assert "U+0000" in text_problem("a\x00b")


def test_tab_and_newline_pass_carriage_return_only_in_multi_line_text():
    assert text_problem("a\tb\nc") is None
    assert text_problem("Zhang Wei 张伟 ☕") is None
    assert text_problem("line\r\nline", multiline=True) is None
    assert text_problem("line\r\nline") is not None
    assert text_problem(None) is None and text_problem(12) is None


def test_text_problems_checks_the_named_fields_only():
    data = {"first_name": "Ann\u0007", "body": "a\r\nb", "notes": "\x1b", "city": "Hangzhou"}
    assert text_problems(data, ["first_name", "body", "city", "absent"], multiline=["body"]) == [
        ("first_name", BELL_MESSAGE)
    ]


def test_text_check_raises_on_the_field():
    with pytest.raises(ValidationFailed) as caught:
        text_check(summary="ok", body="bad\x00")
    assert caught.value.extra == {"field": "body"}
    text_check(summary="ok", body="multi\r\nline", multiline=["body"])


def test_instance_text_problems_reads_text_columns_textfields_multi_line():
    interaction = Interaction(kind="call", summary="Call\r", body="fine\r\nbody")
    assert [f for f, _m in instance_text_problems(interaction)] == ["summary"]
    assert instance_text_problems(interaction, names=["body"]) == []


# --- exports -------------------------------------------------------------------------------------


def test_spreadsheet_text_strips_controls_then_escapes_formulas():
    assert spreadsheet_text("Ann\u0007") == "Ann"
    assert spreadsheet_text("\x00=SUM(A1)") == "'=SUM(A1)"
    assert spreadsheet_text("a\tb\nc") == "a\tb\nc"
    assert spreadsheet_text(7) == 7 and spreadsheet_text(None) is None


def test_xlsx_file_strips_every_illegal_character_from_header_and_cells():
    rows = [(f"Ann{char}Lee", 1) for char in REFUSED]
    ws = load_workbook(xlsx_file(title="t\x07", header=["name\x1b", "n"], rows=rows)).active
    values = list(ws.iter_rows(values_only=True))
    assert values[0] == ("name", "n")
    assert {row[0] for row in values[1:]} == {"AnnLee"}
    assert ws.title == "t-"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Black Friday 11/29", "Black Friday 11-29"),
        ("a:b\\c?d*e[f]g", "a-b-c-d-e-f-g"),
        ("x" * 40, "x" * 31),
        ("'quoted'", "quoted"),
        ("", "Sheet"),
        ("   ", "Sheet"),
        ("会员\u0007名单", "会员-名单"),
    ],
)
def test_sheet_title_is_always_a_valid_sheet_name(title, expected):
    result = sheet_title(title)
    assert result == expected
    assert not INVALID_TITLE_REGEX.search(result) and 0 < len(result) <= 31


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coupons-3-20261204", "coupons-3-20261204"),
        ('Black Friday 11/29"\r\n', "Black-Friday-11-29"),
        ("会员", "export"),
        ("../../etc/passwd", "etc-passwd"),
    ],
)
def test_export_filename_keeps_a_safe_ascii_name(name, expected):
    assert export_filename(name) == expected
