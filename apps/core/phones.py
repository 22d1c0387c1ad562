"""Phone numbers: one normal form (E.164) for every way a number comes in -- staff pages, the
portal, the API, imports and sign-in -- so a number typed at the till and the same number typed
at sign-up compare equal."""

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from .exceptions import ValidationFailed


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """E.164 form of ``raw`` (``+8613812345678``), or "" for blank; ValidationFailed if invalid.
    A number without a country code is read in ``PHONE_DEFAULT_REGION`` (CN by default)."""
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
