import pytest

from apps.core.exceptions import ValidationFailed
from apps.customers.identifiers import (
    luhn_check_digit,
    member_number_generate,
    member_number_is_valid,
    phone_normalize,
)


def test_generated_member_numbers_are_valid_and_distinct():
    numbers = {member_number_generate() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(member_number_is_valid(n) and len(n) == 10 and n[0] != "0" for n in numbers)


def test_a_mistyped_digit_is_detected():
    number = member_number_generate()
    wrong = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    assert not member_number_is_valid(wrong)


def test_luhn_known_value():
    assert luhn_check_digit("7992739871") == "3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13812345678", "+8613812345678"), ("+86 138-1234-5678", "+8613812345678"), ("", "")],
)
def test_phone_normalized_to_e164(raw, expected):
    assert phone_normalize(raw) == expected


def test_invalid_phone_is_refused():
    with pytest.raises(ValidationFailed):
        phone_normalize("12345")
