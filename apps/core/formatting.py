"""How amounts, points, phones and times read, in Python and (through ``fmt`` template filters)
in templates: one place, so the portal, the dashboard, e-mails, exports and ledger descriptions
agree.

Money always carries its currency symbol ("¥1,234.50"); prose may drop empty cents ("¥30 off").
Numbers group by three in both languages. A negative amount uses the minus sign (U+2212) so it
lines up with the digits. Relative times use one unit, the way people say them ("3 days ago",
"3天前"). Dates go through Django's per-language formats (``config/formats``).
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

MINUS = "\u2212"

CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "RMB": "¥",
    "HKD": "HK$",
    "MOP": "MOP$",
    "TWD": "NT$",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "SGD": "S$",
}


def currency_symbol(currency: str | None = None) -> str:
    code = (currency or settings.CURRENCY).upper()
    return CURRENCY_SYMBOLS.get(code, f"{code}\u00a0")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(
    value,
    *,
    currency: str | None = None,
    trim: bool = False,
    signed: bool = False,
    whole: bool = False,
    exact: bool = False,
) -> str:
    """``¥1,234.50``; ``trim`` drops ``.00`` from whole amounts (``¥30``), ``whole`` rounds to the
    unit (headline figures), ``exact`` keeps up to four decimals (a point's value, ``¥0.005``),
    ``signed`` shows a plus sign on positive amounts. Anything that is not a number comes back
    as it is."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    if whole:
        amount = amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        digits = f"{abs(amount):,.0f}"
    elif exact:
        amount = amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        digits = f"{abs(amount):,.4f}".rstrip("0")
        digits += "0" * max(0, 2 - len(digits.partition(".")[2]))
    else:
        amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        digits = f"{abs(amount):,.2f}"
        if trim and digits.endswith(".00"):
            digits = digits[:-3]
    sign = MINUS if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}{currency_symbol(currency)}{digits}"


def number(value, *, places: int = 0, signed: bool = False) -> str:
    """``12,345`` (or with ``places`` decimals); a minus sign for negatives."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    digits = f"{abs(amount):,.{places}f}"
    sign = MINUS if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}{digits}"


def points(value, *, signed: bool = False) -> str:
    """``1,234 points`` / ``1,234 积分`` (singular in English for one)."""
    amount = _decimal(value)
    if amount is None:
        return ""
    count = int(amount)
    return ngettext("%(points)s point", "%(points)s points", abs(count)) % {
        "points": number(count, signed=signed)
    }


def phone_display(raw: str) -> str:
    """``+86 132 9080 9573``: an E.164 number grouped for reading; anything else unchanged."""
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(parsed):
        return raw
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_uri(raw: str) -> str:
    """``tel:+8613290809573`` for a stored number (digits and the plus only)."""
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    return f"tel:{digits}" if digits else ""


def since(value: dt.datetime | dt.date | None, *, now: dt.datetime | None = None) -> str:
    """One-unit relative time: "just now", "5 minutes ago", "in 3 days" (刚刚, 5分钟前, 3天后);
    beyond a month the date itself, which reads better than "11 months ago"."""
    if value is None:
        return ""
    now = now or timezone.now()
    if not isinstance(value, dt.datetime):
        value = timezone.make_aware(dt.datetime.combine(value, dt.time()))
    elif timezone.is_naive(value):
        value = timezone.make_aware(value)
    seconds = (now - value).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return _("just now")
    if seconds >= 31 * 86400:
        return date_format(timezone.localtime(value), "DATE_FORMAT")
    if seconds >= 86400:
        count = int(seconds // 86400)
        if future:
            return ngettext("in %(count)s day", "in %(count)s days", count) % {"count": count}
        return ngettext("%(count)s day ago", "%(count)s days ago", count) % {"count": count}
    if seconds >= 3600:
        count = int(seconds // 3600)
        if future:
            return ngettext("in %(count)s hour", "in %(count)s hours", count) % {"count": count}
        return ngettext("%(count)s hour ago", "%(count)s hours ago", count) % {"count": count}
    count = int(seconds // 60)
    if future:
        return ngettext("in %(count)s minute", "in %(count)s minutes", count) % {"count": count}
    return ngettext("%(count)s minute ago", "%(count)s minutes ago", count) % {"count": count}


def choice_label(choices, value) -> str:
    """The label of a stored choice (``OrderStatus``, ``TxKind``…) in the active language; the
    value itself when it is not one of them, like ``get_<field>_display``. Cheaper in a loop:
    ``get_<field>_display`` translates every label of the field to find one."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


_FIELD_LABELS: dict[tuple, dict] = {}


def field_display(obj, field_name: str):
    """``obj.get_<field_name>_display()``, from the field's labels translated once per language
    and process (the catalogues do not change while a process runs)."""
    field = obj._meta.get_field(field_name)
    key = (obj._meta.label, field_name, get_language())
    labels = _FIELD_LABELS.get(key)
    if labels is None:
        labels = _FIELD_LABELS[key] = {value: str(label) for value, label in field.flatchoices}
    value = getattr(obj, field.attname)
    return labels.get(value, value) if value is not None else None
