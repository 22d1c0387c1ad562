"""Audited exports of customers and orders (invariant 8: every export has an audit event).

Each function picks the rows of its list's filters and hands them to
:func:`apps.core.services.export_audited`, which counts them, records the AuditEvent (actor,
filters, row count) and returns the header and a lazy row iterator: 100k rows never sit in
memory. The caller streams them (CSV) or writes them to a workbook.

These are reports for people (issue 9, part 4): column titles in the reader's language, labels
instead of codes, amounts as :class:`~apps.core.exports.Money`, times as times. The file that
goes back in through an import is the admin's export (``resources.py``: import column names and
codes).

The customer export also carries figures other apps hold about each customer (the loyalty
account's tier and points, ...). The customers app cannot import them (they sit above it), so they
register **column providers** here in their ``AppConfig.ready`` (as they register privacy
sections in ``apps.core.privacy``): a provider names its columns and, given a chunk of customer
ids, returns each customer's cells — a fixed number of queries per chunk of
``EXPORT_CHUNK`` customers, whatever its size. The customers app registers its own figures
(orders, tags, consents) the same way.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Sum
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.db import in_ids
from apps.core.events import wiring_only
from apps.core.exports import XLSX_MAX_ROWS, ExportRows, money_cell, money_header, yes_no
from apps.core.services import export_audited

from .enums import Channel, ConsentPurpose, Gender, OrderChannel, OrderStatus, Source
from .models import ConsentRecord, Customer, Order, Store
from .selectors import customer_list, order_list

__all__ = [
    "XLSX_MAX_ROWS",
    "ExportColumn",
    "ExportRows",
    "customers_export_rows",
    "orders_export_rows",
    "register_columns",
]


# --- column providers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportColumn:
    """One column of the customer export: its title (a lazy translation), and whether it holds
    money (its title then names the currency)."""

    label: str | Promise
    money: bool = False

    def title(self) -> str:
        return money_header(self.label) if self.money else str(self.label)

    def __str__(self) -> str:
        return self.title()


# Customer ids of one chunk -> each customer's cells, in the provider's column order. A customer
# left out of the answer gets empty cells.
ColumnValues = Callable[[list[int]], dict[int, Sequence[Any]]]


@dataclass(frozen=True)
class ColumnProvider:
    name: str
    columns: tuple[ExportColumn, ...]
    values: ColumnValues
    order: int


_providers: dict[str, ColumnProvider] = {}


def register_columns(
    name: str, *, columns: Sequence[ExportColumn], values: ColumnValues, order: int = 100
) -> None:
    """Add (or replace, so reloads stay harmless) columns of the customer export, after the
    profile, in ascending ``order``. In ``AppConfig.ready()`` only. ``values`` runs once per
    chunk of customers, in the export's language, and must not query per customer."""
    wiring_only(f"the customer export columns {name!r}")
    _providers[name] = ColumnProvider(name=name, columns=tuple(columns), values=values, order=order)


def column_providers() -> list[ColumnProvider]:
    return sorted(_providers.values(), key=lambda p: (p.order, p.name))


# --- the customers app's own figures --------------------------------------------------------------

ORDER_COLUMNS = (
    ExportColumn(_("Lifetime spend"), money=True),
    ExportColumn(_("Orders")),
    ExportColumn(_("Last order")),
)


def order_figures(customer_ids: list[int]) -> dict[int, Sequence[Any]]:
    """Spend net of refunds, number of orders and the last order's time: one query."""
    rows = (
        Order.objects.filter(in_ids("customer_id", customer_ids))
        .order_by()
        .values("customer_id")
        .annotate(
            spend=Sum(F("total") - F("refunded_amount")), n=Count("id"), last=Max("placed_at")
        )
        .values_list("customer_id", "spend", "n", "last")
    )
    return {pk: (money_cell(spend), n, last) for pk, spend, n, last in rows}


TAG_COLUMNS = (ExportColumn(_("Tags")),)


def tag_figures(customer_ids: list[int]) -> dict[int, Sequence[Any]]:
    """Each customer's tags, by name, comma-joined: one query."""
    names: dict[int, list[str]] = defaultdict(list)
    rows = (
        Customer.tags.through.objects.filter(in_ids("customer_id", customer_ids))
        .order_by("tag__name")
        .values_list("customer_id", "tag__name")
    )
    for pk, name in rows:
        names[pk].append(name)
    return {pk: (", ".join(tags),) for pk, tags in names.items()}


CONSENT_KEYS = tuple((c, p) for c in Channel.values for p in ConsentPurpose.values)


def _consent_title(channel: str, purpose: str) -> str:
    return gettext("Consent: %(channel)s, %(purpose)s") % {
        "channel": Channel(channel).label,
        "purpose": ConsentPurpose(purpose).label,
    }


CONSENT_COLUMNS = tuple(ExportColumn(lazy(_consent_title, str)(c, p)) for c, p in CONSENT_KEYS)


def consent_figures(customer_ids: list[int]) -> dict[int, Sequence[Any]]:
    """Yes or No per channel and purpose, the latest record winning (never asked: No, as for
    sending), from the chunk's consent history in one query (a few rows per customer)."""
    latest: dict[int, dict[tuple[str, str], bool]] = {pk: {} for pk in customer_ids}
    rows = (
        ConsentRecord.objects.filter(in_ids("customer_id", customer_ids))
        .order_by("at", "id")
        .values_list("customer_id", "channel", "purpose", "granted")
    )
    for pk, channel, purpose, granted in rows:
        latest[pk][(channel, purpose)] = granted
    labels = (yes_no(False), yes_no(True))  # once per chunk: nine cells a customer
    return {
        pk: tuple(labels[bool(given.get(key))] for key in CONSENT_KEYS)
        for pk, given in latest.items()
    }


# --- customers ------------------------------------------------------------------------------------

CUSTOMER_EXPORT_FIELDS = [
    ("id", None),
    ("member_number", _("Member number")),
    ("first_name", _("First name")),
    ("last_name", _("Last name")),
    ("email", _("E-mail")),
    ("phone", _("Phone")),
    ("birth_date", _("Birth date")),
    ("gender", _("Gender")),
    ("city", _("City")),
    ("region", _("Region")),
    ("preferred_language", _("Preferred language")),
    ("preferred_channel", _("Preferred channel")),
    ("store_id", _("Store")),
    ("joined_at", _("Joined")),
    ("source", _("Source")),
]


def store_names() -> dict[int, str]:
    """Store names in the active language (a shop has a few hundred stores at most)."""
    return {store.pk: store.name for store in Store.objects.order_by()}


def _customer_chunk(stores: dict[int, str]) -> Callable[[list[tuple]], list[list]]:
    providers = column_providers()

    def chunk(batch: list[tuple]) -> list[list]:
        # Labels now, in the export's language (``export_audited`` runs this under it).
        genders = {k: str(v) for k, v in Gender.choices}
        languages = {k: str(v) for k, v in settings.LANGUAGES}
        channels = {k: str(v) for k, v in Channel.choices}
        sources = {k: str(v) for k, v in Source.choices}
        ids = [values[0] for values in batch]
        extras = [(p.values(ids), ("",) * len(p.columns)) for p in providers]
        rows = []
        for values in batch:
            (pk, number, first, last, email, phone, birth, gender, city, region, language,
             channel, store_id, joined, source) = values  # fmt: skip
            row = [
                number,
                first,
                last,
                email,
                phone,
                birth,
                genders.get(gender, gender),
                city,
                region,
                languages.get(language, language),
                channels.get(channel, channel),
                stores.get(store_id, "") if store_id else "",
                joined,
                sources.get(source, source),
            ]
            for cells, blank in extras:
                row.extend(cells.get(pk, blank))
            rows.append(row)
        return rows

    return chunk


def customer_export_header() -> list[str]:
    """The customer export's column titles in the active language: the profile, then every
    registered provider's columns."""
    titles = [str(title) for _path, title in CUSTOMER_EXPORT_FIELDS if title is not None]
    for provider in column_providers():
        titles.extend(column.title() for column in provider.columns)
    return titles


def customers_export_rows(
    *,
    actor: User | None,
    fmt: str,
    query: str = "",
    tag: str = "",
    store: str = "",
    source: str = "",
    portal: str = "",
    ordering: str = "-joined",
) -> ExportRows:
    """Customers matching the customer-list filters with the registered figures (loyalty,
    orders, tags, consents), with their audit event."""
    filters = {
        "q": query,
        "tag": tag,
        "store": store,
        "source": source,
        "portal": portal,
        "sort": ordering,
    }
    qs = customer_list(
        query=query, tag=tag, store=store, source=source, portal=portal, ordering=ordering
    )
    return export_audited(
        qs=qs.select_related(None),
        columns=CUSTOMER_EXPORT_FIELDS,
        header=customer_export_header(),
        fmt=fmt,
        actor=actor,
        action="export.customers",
        filters=filters,
        chunk=_customer_chunk(store_names()),
    )


# --- orders ---------------------------------------------------------------------------------------

ORDER_EXPORT_FIELDS = [
    ("store_id", _("Store")),
    ("external_id", _("Order number")),
    ("customer__member_number", _("Member number")),
    ("placed_at", _("Placed at")),
    ("channel", _("Channel")),
    ("total", ExportColumn(_("Total"), money=True)),
    ("discount", ExportColumn(_("Discount"), money=True)),
    ("coupon_code", _("Coupon code")),
    ("refunded_amount", ExportColumn(_("Refunded"), money=True)),
    ("status", _("Status")),
]


def orders_export_rows(
    *, actor: User | None, fmt: str, query: str = "", store: str = ""
) -> ExportRows:
    """Orders matching the order-list filters, with their audit event."""
    qs = order_list(query=query, store=store).select_related(None)
    stores = store_names()
    channels = {k: str(v) for k, v in OrderChannel.choices}
    statuses = {k: str(v) for k, v in OrderStatus.choices}

    def row(values: tuple) -> tuple:
        store_id, external_id, number, placed_at, channel, total, discount, coupon, refunded, st = (
            values
        )
        return (
            stores.get(store_id, ""),
            external_id,
            number or "",
            placed_at,
            channels.get(channel, channel),
            money_cell(total),
            money_cell(discount),
            coupon,
            money_cell(refunded),
            statuses.get(st, st),
        )

    return export_audited(
        qs=qs,
        columns=ORDER_EXPORT_FIELDS,
        fmt=fmt,
        actor=actor,
        action="export.orders",
        filters={"q": query, "store": store},
        row=row,
    )
