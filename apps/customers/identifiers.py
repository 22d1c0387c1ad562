"""Member numbers, phone numbers and contact digests. (``phone_normalize`` lives in
``apps.core.phones``: sign-in in ``apps.accounts`` normalises numbers the same way.)

Member numbers are 10 digits: 9 random digits and a Luhn check digit, so a mistyped digit at the
till is caught before any lookup, and numbers cannot be enumerated from each other.
"""

import contextlib
import hashlib
import hmac
import re
import secrets

from django.conf import settings

from apps.core.exceptions import ValidationFailed
from apps.core.phones import phone_normalize

MEMBER_NUMBER_LENGTH = 10
CONTACT_KINDS = ("email", "phone")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


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


def contact_digest(kind: str, value: str) -> str:
    """Keyed digest (HMAC-SHA-256 with ``ERASURE_DIGEST_KEY``) of one normalised contact point,
    prefixed by its kind: ``email:`` and the stripped, lower-cased address, or ``phone:`` and the
    E.164 number (a number that does not parse is taken stripped, as written). "" for a blank
    value. The suppression list of erased people (``ErasedContact``) holds these digests, never
    the addresses; keyed, because phone numbers are few enough to recover from a plain hash by
    trying them all. Changing the key empties the list in effect, so it has its own setting."""
    if kind not in CONTACT_KINDS:
        raise ValueError(f"unknown contact kind {kind!r}")
    value = (value or "").strip()
    if not value:
        return ""
    if kind == "email":
        value = value.lower()
    elif not _E164_RE.match(value):  # E.164 already (stored, or cleaned by an import): as is
        with contextlib.suppress(ValidationFailed):
            value = phone_normalize(value)
    key = settings.ERASURE_DIGEST_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def phone_code_cache_key(user_id: int) -> str:
    """Where the pending SMS code of a portal account is kept (the membership services write
    it, ``selectors.phone_code_pending`` reads it)."""
    return f"portal:phone-code:{user_id}"
