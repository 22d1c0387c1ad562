"""Cohort retention against a hand-computed fixture (``apps.analytics.cohorts``).

The business time zone is Asia/Shanghai (UTC+8). As of 15 March 2025, twelve cohorts run from
April 2024 to March 2025:

==========  ========================  ===============  ==========================================
member      joined (local)            store / source   orders (local; status)
==========  ========================  ===============  ==========================================
A           2025-01-10 10:00          S1 / store       01-12 100 paid; 02-05 80, 30 refunded;
            (tier gold)                                03-01 60 refunded in full
B           2025-01-31 23:30          S2 / portal      01-31 23:45 40; 02-01 00:30 70
H           2025-01-20                S1 / store       none
C           2025-02-01 00:30          S1 / store       03-10 200
D           2025-02-14 (anonymised)   S1 / store       02-20 90
G           2025-03-02                S2 / store       none
E           2025-01-05 (merged → A)   S1 / store       none
F           2024-03-20                S1 / store       2024-05-02 50; 2025-01-08 30
==========  ========================  ===============  ==========================================

B's order at 00:30 on 1 February is 16:30 UTC on 31 January, and C joined at that same instant:
both are February's in the business time zone (and would be January's in UTC).
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apps.analytics.cohorts import (
    BASIS_FIRST_PURCHASE,
    CohortFilters,
    cohort_matrix,
    cohort_rows,
)
from apps.customers.enums import OrderStatus, Source
from apps.loyalty.models import LoyaltyAccount
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import TierFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2025, 3, 15)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def world():
    s1, s2 = StoreFactory(code="s1"), StoreFactory(code="s2")
    gold = TierFactory(slug="gold")

    def member(joined, store, source=Source.STORE, **kwargs):
        return CustomerFactory(joined_at=joined, store=store, source=source, **kwargs)

    def order(customer, placed, total, *, refunded="0", status=OrderStatus.PAID):
        return OrderFactory(
            customer=customer,
            store=customer.store,
            placed_at=placed,
            total=Decimal(total),
            refunded_amount=Decimal(refunded),
            status=status,
        )

    a = member(local(2025, 1, 10, 10), s1)
    LoyaltyAccount.objects.create(customer=a, tier=gold)
    order(a, local(2025, 1, 12, 12), "100")
    order(a, local(2025, 2, 5, 12), "80", refunded="30", status=OrderStatus.PARTIALLY_REFUNDED)
    order(a, local(2025, 3, 1, 12), "60", refunded="60", status=OrderStatus.REFUNDED)
    b = member(local(2025, 1, 31, 23, 30), s2, Source.PORTAL)
    LoyaltyAccount.objects.create(customer=b)
    order(b, local(2025, 1, 31, 23, 45), "40")
    order(b, local(2025, 2, 1, 0, 30), "70")
    member(local(2025, 1, 20, 9), s1)  # H
    c = member(local(2025, 2, 1, 0, 30), s1)
    order(c, local(2025, 3, 10, 12), "200")
    d = member(local(2025, 2, 14, 9), s1, anonymized_at=local(2025, 3, 1, 9))
    order(d, local(2025, 2, 20, 12), "90")
    member(local(2025, 3, 2, 9), s2)  # G
    member(local(2025, 1, 5, 9), s1, merged_into=a, merged_at=local(2025, 3, 3, 9))  # E
    f = member(local(2024, 3, 20, 9), s1)
    order(f, local(2024, 5, 2, 12), "50")
    order(f, local(2025, 1, 8, 12), "30")
    return {"s1": s1, "s2": s2, "gold": gold}


def figures(matrix) -> dict:
    """{cohort "YYYY-MM": (size, [(buyers, percent, revenue per member), ...])} for the
    cohorts that have members."""
    return {
        row.month.strftime("%Y-%m"): (
            row.size,
            [(c.buyers, c.percent, c.revenue_per_member) for c in row.cells if c is not None],
        )
        for row in matrix.rows
        if row.size
    }


def D(value: str) -> Decimal:
    return Decimal(value)


def test_join_month_cohorts(world):
    matrix = cohort_matrix(filters=CohortFilters(), as_of=AS_OF)
    assert (matrix.rows[0].month, matrix.rows[-1].month) == (
        dt.date(2024, 4, 1),
        dt.date(2025, 3, 1),
    )
    assert figures(matrix) == {
        # A, B, H: the refunded order in March is no purchase; A's part refund counts net.
        "2025-01": (3, [(2, 66.7, D("46.67")), (2, 66.7, D("40.00")), (0, 0.0, D("0.00"))]),
        # C (joined 00:30 on 1 February, local) and the anonymised D.
        "2025-02": (2, [(1, 50.0, D("45.00")), (1, 50.0, D("100.00"))]),
        "2025-03": (1, [(0, 0.0, D("0.00"))]),
    }


def test_cells_stop_at_the_current_month(world):
    matrix = cohort_matrix(filters=CohortFilters(months=24), as_of=AS_OF)
    assert len(matrix.rows) == 24 and matrix.offsets == list(range(24))
    newest, oldest = matrix.rows[-1], matrix.rows[0]
    assert oldest.month == dt.date(2023, 4, 1)
    assert newest.cells[0] is not None and newest.cells[1:] == [None] * 23
    assert all(c is not None for c in oldest.cells)
    # F joined in March 2024, within 24 months: bought in May (offset 2) and January (10).
    march = next(r for r in matrix.rows if r.month == dt.date(2024, 3, 1))
    assert march.size == 1
    assert [k for k, c in enumerate(march.cells) if c and c.buyers] == [2, 10]


def test_revenue_is_net_of_refunds(world):
    matrix = cohort_matrix(filters=CohortFilters(), as_of=AS_OF)
    january = next(r for r in matrix.rows if r.month == dt.date(2025, 1, 1))
    assert [c.revenue for c in january.cells[:3]] == [D("140.00"), D("120.00"), D("0.00")]


def test_first_purchase_cohorts(world):
    matrix = cohort_matrix(filters=CohortFilters(basis=BASIS_FIRST_PURCHASE), as_of=AS_OF)
    may, january = figures(matrix)["2024-05"], figures(matrix)["2025-01"]
    assert (
        may[0] == 1 and may[1][0] == (1, 100.0, D("50.00")) and may[1][8] == (1, 100.0, D("30.00"))
    )
    assert [k for k, cell in enumerate(may[1]) if cell[0]] == [0, 8]
    assert january == (2, [(2, 100.0, D("70.00")), (2, 100.0, D("60.00")), (0, 0.0, D("0.00"))])
    assert figures(matrix)["2025-02"] == (1, [(1, 100.0, D("90.00")), (0, 0.0, D("0.00"))])
    assert figures(matrix)["2025-03"] == (1, [(1, 100.0, D("200.00"))])
    # Members who never bought belong to no first-purchase cohort.
    assert matrix.members == 5


def test_filter_by_home_store(world):
    matrix = cohort_matrix(filters=CohortFilters(store_id=world["s1"].pk), as_of=AS_OF)
    assert figures(matrix) == {
        "2025-01": (2, [(1, 50.0, D("50.00")), (1, 50.0, D("25.00")), (0, 0.0, D("0.00"))]),
        "2025-02": (2, [(1, 50.0, D("45.00")), (1, 50.0, D("100.00"))]),
    }


def test_filter_by_current_tier(world):
    matrix = cohort_matrix(filters=CohortFilters(tier_id=world["gold"].pk), as_of=AS_OF)
    assert figures(matrix) == {
        "2025-01": (1, [(1, 100.0, D("100.00")), (1, 100.0, D("50.00")), (0, 0.0, D("0.00"))]),
    }


def test_filter_by_source(world):
    matrix = cohort_matrix(filters=CohortFilters(source=Source.PORTAL), as_of=AS_OF)
    assert figures(matrix) == {
        "2025-01": (1, [(1, 100.0, D("40.00")), (1, 100.0, D("70.00")), (0, 0.0, D("0.00"))]),
    }


def test_empty_programme_gives_empty_cohorts(db):
    matrix = cohort_matrix(filters=CohortFilters(), as_of=AS_OF)
    assert len(matrix.rows) == 12 and matrix.members == 0
    assert matrix.rows[0].cells[0].percent == 0.0
    assert matrix.rows[0].cells[0].revenue_per_member == D("0")


def test_export_rows_are_the_cells(world):
    header, rows = cohort_rows(cohort_matrix(filters=CohortFilters(), as_of=AS_OF))
    assert header[:5] == ["Cohort", "Members", "Months since", "Buyers", "Retention (%)"]
    january = [r for r in rows if r[0] == "2025-01"]
    assert [r[1:5] for r in january] == [[3, 0, 2, 66.7], [3, 1, 2, 66.7], [3, 2, 0, 0.0]]
    assert january[0][5:] == [D("140.00"), D("46.67")]
    # One row per cell that has come: 12 + 11 + … + 1.
    assert len(rows) == 78


def test_bad_filters_are_refused():
    with pytest.raises(ValueError):
        CohortFilters(months=7)
    with pytest.raises(ValueError):
        CohortFilters(basis="whenever")
