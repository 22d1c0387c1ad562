"""Member numbers and phone numbers.

Member numbers are 10 digits: 9 random digits and a Luhn check digit, so a mistyped digit at the
till is caught before any lookup, and numbers cannot be enumerated from each other.
"""

import secrets

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from apps.core.exceptions import ValidationFailed

MEMBER_NUMBER_LENGTH = 10


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def member_number_generate() -> str:
    body = str(secrets.randbelow(9 * 10**8) + 10**8)  # never starts with 0
    return body + luhn_check_digit(body)


def member_number_is_valid(value: str) -> bool:
    return (
        len(value) == MEMBER_NUMBER_LENGTH
        and value.isdigit()
        and luhn_check_digit(value[:-1]) == value[-1]
    )


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """E.164 form of ``raw`` (``+8613812345678``), or "" for blank; ValidationFailed if invalid."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            _("“%(phone)s” is not a phone number.") % {"phone": raw}, field="phone"
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(
            _("“%(phone)s” is not a valid phone number.") % {"phone": raw}, field="phone"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
