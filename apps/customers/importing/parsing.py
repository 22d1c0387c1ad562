"""Field parsers for import cells: each returns the value or raises ValueError(reason)."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

_YES = {"yes", "y", "1", "true"}
_NO = {"no", "n", "0", "false"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def parse_moment(text: str, tz: ZoneInfo | None = None) -> dt.datetime:
    """ISO 8601 date or date-time, with or without offset; naive means settings.TIME_ZONE."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("is not an ISO 8601 date or date-time")) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or local_tz())
    return value


def parse_day(text: str) -> dt.date:
    if not _DATE_RE.match(text):
        raise ValueError(_("is not a date (YYYY-MM-DD)"))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("is not a date (YYYY-MM-DD)")) from None


def parse_money(text: str, *, places: int = 2, digits: int = 12) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("is not a number")) from None
    if not value.is_finite():
        raise ValueError(_("is not a number"))
    if value < 0:
        raise ValueError(_("must not be negative"))
    if value.as_tuple().exponent < -places:
        raise ValueError(_("has more than %(n)s decimal places") % {"n": places})
    if value >= Decimal(10) ** (digits - places):
        raise ValueError(_("is too large"))
    return value


def parse_flag(text: str) -> bool | None:
    low = text.lower()
    if low in _YES:
        return True
    if low in _NO:
        return False
    raise ValueError(_("must be yes or no"))


def text_limited(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(_("is longer than %(n)s characters") % {"n": limit})
    return text
