"""Reads for the data-quality pages: pairs of customers that are likely the same person.

A pair is found by one or more reasons:

* ``phone``: the same phone number (stored in E.164, so formatting differences are gone);
* ``email``: the same e-mail address, in any case;
* ``name_birth``: the same birth date and the same name, family and given name in either order
  (spaces and case ignored: "Zhang Wei" / "wei zhang", 张伟 / 伟张 entered the wrong way round);
* ``review``: one of the two carries the ``portal-review`` tag, which the portal's enrolment
  sets when a new membership's verified e-mail already belongs to another one (that twin is
  found by the reasons above).

Only active customers (not anonymised, not merged away) are paired. Exact normalised matches,
no fuzzy similarity: the pairs must hold on SQLite (development) and PostgreSQL alike, and a
wrong pair costs staff time while a missed one shows up again on its next match.

Efficient at any size: each reason is one GROUP BY over the customers table to find the shared
values, then a join of the customers holding them; the pairs of one page are fetched with
LIMIT/OFFSET and only that page's customers are loaded. A value shared by more than
``GROUP_CAP`` customers (a shop's own phone number typed for walk-ins, "none@none.com") is a
placeholder, not a person, and pairs nobody: without the cap one such value would make
n·(n-1)/2 pairs.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from .enums import REVIEW_TAG
from .models import Customer, Order, Tag

GROUP_CAP = 20

REASON_BITS = {"phone": 1, "email": 2, "name_birth": 4, "review": 8}
REASON_LABELS = {
    "phone": _("Same phone"),
    "email": _("Same e-mail"),
    "name_birth": _("Same name and birth date"),
    "review": _("Portal review"),
}


def _name_key(alias: str, reverse: bool) -> str:
    first, last = f"{alias}.first_name", f"{alias}.last_name"
    parts = (first, last) if reverse else (last, first)
    return f"LOWER(REPLACE({parts[0]} || {parts[1]}, ' ', ''))"


def _sql(*, where: str, tail: str) -> str:
    # LEAST on PostgreSQL is the two-argument MIN on SQLite.
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    table = Customer._meta.db_table
    tags = Customer.tags.through._meta.db_table
    tag = Tag._meta.db_table
    name_key = f"{least}({_name_key('c', False)}, {_name_key('c', True)})"
    # Identifiers come from model meta and constants; every value is a query parameter.
    return f"""
WITH active AS (
    SELECT c.id, c.phone, LOWER(c.email) AS email, c.birth_date,
           CASE WHEN c.first_name <> '' AND c.last_name <> '' THEN {name_key} END AS name_key
    FROM {table} c
    WHERE c.anonymized_at IS NULL AND c.merged_into_id IS NULL
),
phones AS (
    SELECT phone FROM active WHERE phone <> ''
    GROUP BY phone HAVING COUNT(*) BETWEEN 2 AND %(cap)s
),
emails AS (
    SELECT email FROM active WHERE email <> ''
    GROUP BY email HAVING COUNT(*) BETWEEN 2 AND %(cap)s
),
names AS (
    SELECT birth_date, name_key FROM active
    WHERE birth_date IS NOT NULL AND name_key IS NOT NULL
    GROUP BY birth_date, name_key HAVING COUNT(*) BETWEEN 2 AND %(cap)s
),
pairs AS (
    SELECT a.id AS a_id, b.id AS b_id, {REASON_BITS["phone"]} AS bits
    FROM phones k JOIN active a ON a.phone = k.phone JOIN active b ON b.phone = k.phone
    WHERE a.id < b.id
    UNION ALL
    SELECT a.id, b.id, {REASON_BITS["email"]}
    FROM emails k JOIN active a ON a.email = k.email JOIN active b ON b.email = k.email
    WHERE a.id < b.id
    UNION ALL
    SELECT a.id, b.id, {REASON_BITS["name_birth"]}
    FROM names k
    JOIN active a ON a.birth_date = k.birth_date AND a.name_key = k.name_key
    JOIN active b ON b.birth_date = k.birth_date AND b.name_key = k.name_key
    WHERE a.id < b.id
),
review AS (
    SELECT ct.customer_id FROM {tags} ct JOIN {tag} t ON t.id = ct.tag_id
    WHERE LOWER(t.name) = %(review)s
),
grouped AS (
    SELECT a_id, b_id, SUM(bits)
        + CASE WHEN a_id IN (SELECT customer_id FROM review)
                 OR b_id IN (SELECT customer_id FROM review)
          THEN {REASON_BITS["review"]} ELSE 0 END AS reasons
    FROM pairs GROUP BY a_id, b_id
)
SELECT {{select}} FROM grouped WHERE {where} {tail}
"""  # noqa: S608 (identifiers from model meta, values bound)  # nosec B608


@dataclass(frozen=True)
class DuplicatePair:
    first: Customer
    second: Customer
    reasons: list[str]
    orders: dict[int, int]  # customer id -> number of orders

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[r]) for r in self.reasons]


def _reasons(bits: int) -> list[str]:
    return [name for name, bit in REASON_BITS.items() if bits & bit]


class DuplicateCandidates:
    """The pairs, best first (review, then e-mail, phone, name and birth date; newest first
    within), as a sliceable sequence for ``Paginator``. Finding the pairs reads every active
    customer, so it runs once a page: ``count()`` reads the total with the first
    ``ROWS_KEPT`` pairs (a window count), and a slice within them is served from those; a
    slice further on, or one asked before any count, is one query of its own. Either way two
    more read the page's customers and their order counts."""

    ROWS_KEPT = 1000
    ORDER = "ORDER BY reasons DESC, b_id DESC, a_id DESC"

    def __init__(self, *, reason: str = "", customer: Customer | None = None) -> None:
        conditions, params = ["1 = 1"], {"cap": GROUP_CAP, "review": REVIEW_TAG}
        if reason in REASON_BITS:
            conditions.append(f"(reasons & {REASON_BITS[reason]}) <> 0")
        if customer is not None:
            conditions.append("(a_id = %(customer)s OR b_id = %(customer)s)")
            params["customer"] = customer.pk
        self.where = " AND ".join(conditions)
        self.params = params
        self._count: int | None = None
        self._kept: list[tuple] = []

    def _run(self, select: str, tail: str = "") -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                _sql(where=self.where, tail=tail).replace("{select}", select), self.params
            )
            return cursor.fetchall()

    def count(self) -> int:
        if self._count is None:
            rows = self._run(
                "a_id, b_id, reasons, COUNT(*) OVER ()", f"{self.ORDER} LIMIT {self.ROWS_KEPT}"
            )
            self._count = rows[0][3] if rows else 0
            self._kept = [row[:3] for row in rows]
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[DuplicatePair]:
        if not isinstance(item, slice):
            raise TypeError("DuplicateCandidates supports slices only")
        start = item.start or 0
        stop = item.stop if item.stop is not None else start + 50
        if self._count is not None and (stop <= len(self._kept) or self._count <= len(self._kept)):
            return _hydrate(self._kept[start:stop])
        rows = self._run(
            "a_id, b_id, reasons",
            f"{self.ORDER} LIMIT {int(stop - start)} OFFSET {int(start)}",
        )
        return _hydrate(rows)


def _hydrate(rows: list[tuple]) -> list[DuplicatePair]:
    ids = {pk for a, b, _bits in rows for pk in (a, b)}
    if not ids:
        return []
    customers = Customer.objects.select_related("store", "user").in_bulk(ids)
    orders = dict(
        Order.objects.filter(customer_id__in=ids)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return [
        DuplicatePair(
            first=customers[a],
            second=customers[b],
            reasons=_reasons(bits),
            orders={a: orders.get(a, 0), b: orders.get(b, 0)},
        )
        for a, b, bits in rows
    ]


def duplicate_candidates(*, reason: str = "", customer: Customer | None = None):
    """Likely duplicate pairs (see the module docstring), optionally of one ``reason`` or
    involving one ``customer``; paginate with ``Paginator``."""
    return DuplicateCandidates(reason=reason, customer=customer)


def duplicate_reasons(*, first: Customer, second: Customer) -> list[str]:
    """Why these two look like one person (the same rules, for one pair; [] if none)."""
    pairs = DuplicateCandidates(customer=first)
    pairs.where += " AND (a_id = %(other)s OR b_id = %(other)s)"
    pairs.params["other"] = second.pk
    rows = pairs._run("reasons")
    return _reasons(rows[0][0]) if rows else []


def merge_suggestion(first: Customer, second: Customer) -> tuple[Customer, Customer]:
    """(source, target): which of two duplicates should survive by default. The one with a
    portal login (the member signs in to it), then the one with more orders, then the older
    membership. Staff may choose the other way round."""

    def weight(c: Customer, orders: int) -> tuple:
        return (c.user_id is not None, orders, -c.joined_at.timestamp(), -c.pk)

    counts = dict(
        Order.objects.filter(customer_id__in=[first.pk, second.pk])
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    a, b = weight(first, counts.get(first.pk, 0)), weight(second, counts.get(second.pk, 0))
    return (second, first) if a >= b else (first, second)
