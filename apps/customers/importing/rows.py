"""Row cleaners: one customer row or one order row, validated into clean values and a list of
``(column, reason)`` problems. Shared with the admin's django-import-export resources
(``apps.customers.resources``), so every way of importing applies the same rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.db import is_postgres
from apps.core.exceptions import ValidationFailed

from ..enums import Channel, ConsentPurpose, Gender, OrderChannel
from ..identifiers import CONTACT_KINDS, contact_digest, member_number_is_valid
from ..models import Customer, Store
from ..services import PROFILE_FIELDS, customer_profile_problems, order_placed_at_problem
from ..suppression import erased_digests_among
from .parsing import local_tz, parse_day, parse_flag, parse_moment, parse_money, text_limited
from .results import chunks

CUSTOMER_COLUMNS = [
    "member_number",
    *PROFILE_FIELDS,
    "joined_at",
    "consent_email_marketing",
    "consent_sms_marketing",
]
CUSTOMER_REQUIRED = ["first_name", "last_name", "email", "phone"]
ORDER_COLUMNS = [
    "member_number",
    "external_id",
    "store",
    "placed_at",
    "total",
    "channel",
    "discount",
    "coupon_code",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
]
ORDER_REQUIRED = ["member_number", "external_id", "store", "placed_at", "total"]
LINE_COLUMNS = ("sku", "name", "category", "quantity", "unit_price")
# Values that must agree on every row of one order.
ORDER_LEVEL = ("member_number", "placed_at", "total", "channel", "discount", "coupon_code")
CONSENT_COLUMNS = {
    "consent_email_marketing": (Channel.EMAIL, ConsentPurpose.MARKETING),
    "consent_sms_marketing": (Channel.SMS, ConsentPurpose.MARKETING),
}
_ORDER_CHANNELS = frozenset(OrderChannel.values)


_ORDER_CHANNELS = frozenset(OrderChannel.values)


@dataclass
class ImportContext:
    """What row cleaning needs from the database, loaded once per file."""

    stores: dict[str, int]
    customers: dict[str, int] = field(default_factory=dict)  # member_number -> id
    tz: ZoneInfo = field(default_factory=local_tz)
    today: dt.date = field(default_factory=timezone.localdate)

    @classmethod
    def load(cls) -> ImportContext:
        return cls(stores=dict(Store.objects.values_list("code", "id")))


def customer_row_clean(
    values: dict[str, str], ctx: ImportContext
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Validate one customer row. Returns (clean values, [(column, reason), ...])."""
    out: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def check(column: str, fn: Callable[[str], Any], default: Any = "") -> None:
        text = (values.get(column) or "").strip()
        if not text:
            out[column] = default
            return
        try:
            out[column] = fn(text)
        except ValueError as exc:
            problems.append((column, str(exc)))
        except ValidationFailed as exc:
            problems.append((column, exc.message))

    def member(text: str) -> str:
        if not member_number_is_valid(text):
            raise ValueError(_("is not a valid member number (10 digits with a check digit)"))
        return text

    def choice(options: list[str]) -> Callable[[str], str]:
        def pick(text: str) -> str:
            low = text.lower()
            if low not in options:
                raise ValueError(_("must be one of %(options)s") % {"options": ", ".join(options)})
            return low

        return pick

    def store(text: str) -> int:
        if text not in ctx.stores:
            raise ValueError(_("unknown store “%(code)s”") % {"code": text})
        return ctx.stores[text]

    def joined(text: str) -> dt.datetime:
        moment = parse_moment(text, ctx.tz)
        if moment > timezone.now() + dt.timedelta(days=1):
            raise ValueError(_("is in the future"))
        return moment

    check("member_number", member)
    check("first_name", lambda t: text_limited(t, 80))
    check("last_name", lambda t: text_limited(t, 80))
    check("email", lambda t: text_limited(t, 254))
    check("phone", lambda t: text_limited(t, 32))
    check("birth_date", parse_day, None)
    check("gender", choice(list(Gender.values)))
    check("city", lambda t: text_limited(t, 80))
    check("region", lambda t: text_limited(t, 80))
    languages = [code for code, _label in settings.LANGUAGES]
    check(
        "preferred_language",
        choice(languages),
        Customer._meta.get_field("preferred_language").default,
    )
    check("preferred_channel", choice(list(Channel.values)), Channel.EMAIL.value)
    check("store", store, None)
    check("joined_at", joined, None)
    for column in CONSENT_COLUMNS:
        check(column, parse_flag, None)
    # The profile's one clean (the same as the staff pages', the portal's and the API's):
    # e-mail, phone, birth date and the minimum-contact rule.
    profile = {k: out[k] for k in PROFILE_FIELDS if k in out and k != "store"}
    cleaned, refused = customer_profile_problems(profile)
    taken = {column for column, _reason in problems}
    problems.extend((column, reason) for column, reason in refused if column not in taken)
    out.update(cleaned)
    return out, problems


def erased_digests_of(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The digests of the rows' e-mails and phones that are on the suppression list of erased
    people, in one query per chunk (not per row). Rows may be raw or cleaned."""
    return erased_digests_among(
        contact_digest(kind, row.get(kind) or "") for row in rows for kind in CONTACT_KINDS
    )


def customer_row_erased(clean: Mapping[str, Any], erased: set[str]) -> list[tuple[str, str]]:
    """[(column, reason)] for the row's e-mail and phone found in ``erased`` (from
    ``erased_digests_of``)."""
    if not erased:
        return []
    return [
        (kind, _("this person asked to be forgotten; they can re-join themselves"))
        for kind in CONTACT_KINDS
        if contact_digest(kind, clean.get(kind) or "") in erased
    ]


def order_row_clean(
    values: dict[str, str], ctx: ImportContext
) -> tuple[dict[str, Any], dict[str, Any] | None, list[tuple[str, str]]]:
    """Validate one order row: (order-level values, line values or None, problems).
    ``ctx.customers`` must map the file's member numbers to customer ids."""
    order: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def get(column: str) -> str:
        # Rows from files are stripped strings already; rows from resources are normalised first.
        return values.get(column) or ""

    member_number = get("member_number")
    order["member_number"] = member_number
    if member_number:
        customer_id = ctx.customers.get(member_number)
        if customer_id is None:
            problems.append(
                ("member_number", _("unknown member number “%(n)s”") % {"n": member_number})
            )
        order["customer_id"] = customer_id
    else:
        order["customer_id"] = None  # an anonymous (non-member) order

    external_id = get("external_id")
    if not external_id:
        problems.append(("external_id", _("is required")))
    elif len(external_id) > 64:
        problems.append(("external_id", _("is longer than %(n)s characters") % {"n": 64}))
    order["external_id"] = external_id

    code = get("store")
    order["store_id"] = ctx.stores.get(code)
    if not code:
        problems.append(("store", _("is required")))
    elif order["store_id"] is None:
        problems.append(("store", _("unknown store “%(code)s”") % {"code": code}))

    placed = get("placed_at")
    if not placed:
        problems.append(("placed_at", _("is required")))
    else:
        try:
            order["placed_at"] = parse_moment(placed, ctx.tz)
        except ValueError as exc:
            problems.append(("placed_at", str(exc)))
        else:
            if when := order_placed_at_problem(order["placed_at"]):
                problems.append(("placed_at", when))

    total = get("total")
    if not total:
        problems.append(("total", _("is required")))
    else:
        try:
            order["total"] = parse_money(total)
        except ValueError as exc:
            problems.append(("total", str(exc)))

    channel = get("channel").lower()
    if channel and channel not in _ORDER_CHANNELS:
        problems.append(
            (
                "channel",
                _("must be one of %(options)s") % {"options": ", ".join(OrderChannel.values)},
            )
        )
    order["channel"] = channel or OrderChannel.STORE.value

    discount = get("discount")
    order["discount"] = Decimal(0)
    if discount:
        try:
            order["discount"] = parse_money(discount)
        except ValueError as exc:
            problems.append(("discount", str(exc)))
    coupon = get("coupon_code")
    if len(coupon) > 40:
        problems.append(("coupon_code", _("is longer than %(n)s characters") % {"n": 40}))
    order["coupon_code"] = coupon

    line: dict[str, Any] | None = None
    if any(get(c) for c in LINE_COLUMNS):
        line = {}
        sku = get("sku")
        if not sku:
            problems.append(("sku", _("is required on a line")))
        elif len(sku) > 64:
            problems.append(("sku", _("is longer than %(n)s characters") % {"n": 64}))
        line["sku"] = sku
        for column, limit in (("name", 200), ("category", 80)):
            text = get(column)
            if len(text) > limit:
                problems.append((column, _("is longer than %(n)s characters") % {"n": limit}))
            line[column] = text
        quantity = get("quantity")
        line["quantity"] = Decimal(1)
        if quantity:
            try:
                line["quantity"] = parse_money(quantity, places=3, digits=10)
                if line["quantity"] == 0:
                    problems.append(("quantity", _("must be more than zero")))
            except ValueError as exc:
                problems.append(("quantity", str(exc)))
        price = get("unit_price")
        if not price:
            problems.append(("unit_price", _("is required on a line")))
        else:
            try:
                line["unit_price"] = parse_money(price)
            except ValueError as exc:
                problems.append(("unit_price", str(exc)))
    return order, line, problems


def customer_ids_by_number(numbers: list[str]) -> Iterator[tuple[str, int]]:
    """(member_number, id) of the customers among ``numbers``; a merged-away member number
    gives its survivor's id (old cards keep earning for the person)."""
    if not numbers:
        return
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT member_number, COALESCE(merged_into_id, id) "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
                f"FROM {Customer._meta.db_table} WHERE member_number = ANY(%s)",
                [numbers],
            )
            yield from cursor.fetchall()
        return
    for chunk in chunks(numbers):
        yield from (
            Customer.objects.filter(member_number__in=chunk)
            .annotate(survivor=Coalesce("merged_into_id", "id"))
            .values_list("member_number", "survivor")
        )
