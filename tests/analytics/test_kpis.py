"""Every KPI definition against a hand-computed fixture (apps/analytics/kpis.py; the definitions
in docs/decisions.md): refunds, an anonymised member, members without orders, a merged duplicate
and business-time-zone day boundaries; the scopes; the customers behind a number."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.kpi_board import Card
from apps.analytics.kpis import (
    BY_KEY,
    DEFINITIONS,
    Scope,
    Window,
    kpi_customers,
    kpi_values,
)
from apps.complaints.services.tickets import ticket_open
from apps.customers.enums import OrderStatus
from apps.loyalty.models import LoyaltyAccount
from apps.loyalty.services import points_adjust
from apps.surveys.models import Response
from tests.complaints.factories import CategoryFactory
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory, TierFactory
from tests.surveys.factories import InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 31)  # the window: 2026-03-02 .. 2026-03-31 (30 days)


def local(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An aware datetime at ``hour:minute`` business time on ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def order(customer, day, total="100", *, store=None, refunded="0", hour=12, minute=0, **kw):
    refunded = Decimal(refunded)
    status = OrderStatus.PAID
    if refunded:
        status = (
            OrderStatus.REFUNDED if refunded == Decimal(total) else OrderStatus.PARTIALLY_REFUNDED
        )
    return OrderFactory(
        customer=customer,
        store=store or StoreFactory(code="main"),
        placed_at=local(day, hour, minute),
        total=Decimal(total),
        refunded_amount=refunded,
        status=status,
        **kw,
    )


@pytest.fixture
def shop():
    """Six customers, by hand:

    ann   joined long ago; ordered in February (previous window) and twice in March.
    bob   joined long ago; ordered in February only (churned).
    cy    joined 2026-03-10 (new); one March order of ¥300, ¥100 of it refunded.
    dee   joined 2026-03-31 at 23:30 local (new, in the window; UTC still says the 31st).
    eve   joined long ago; a March order fully refunded (does not count), and one placed
          2026-04-01 at 00:10 local (after the window; UTC still says March 31st).
    fay   anonymised on 2026-03-20: counted as a member before, not after.
    A merged duplicate of ann is never a member.
    """
    old = local(dt.date(2025, 1, 5))
    north = StoreFactory(code="north")
    people = {
        "ann": CustomerFactory(joined_at=old),
        "bob": CustomerFactory(joined_at=old),
        "cy": CustomerFactory(joined_at=local(dt.date(2026, 3, 10)), store=north),
        "dee": CustomerFactory(joined_at=local(DAY, 23, 30)),
        "eve": CustomerFactory(joined_at=old),
        "fay": CustomerFactory(joined_at=old, anonymized_at=local(dt.date(2026, 3, 20))),
    }
    CustomerFactory(joined_at=old, merged_into=people["ann"], merged_at=old)
    order(people["ann"], dt.date(2026, 2, 10), "80")
    order(people["ann"], dt.date(2026, 3, 5), "120")
    order(people["ann"], dt.date(2026, 3, 25), "60", store=north)
    order(people["bob"], dt.date(2026, 2, 20), "50")
    order(people["cy"], dt.date(2026, 3, 12), "300", refunded="100", store=north)
    order(people["eve"], dt.date(2026, 3, 15), "70", refunded="70")
    order(people["eve"], dt.date(2026, 4, 1), "90", hour=0, minute=10)
    return people


def test_member_figures_count_who_was_a_member_at_the_end_of_the_day(shop):
    values = kpi_values(window=Window(DAY))
    # ann, bob, cy, dee, eve; not fay (anonymised by then), not the merged duplicate.
    assert values["members"] == 5
    assert values["new_members"] == 2  # cy and dee (23:30 local on the last day)
    # Before fay was anonymised and before cy and dee joined: ann, bob, eve, fay.
    assert kpi_values(window=Window(dt.date(2026, 3, 9)))["members"] == 4


def test_sales_figures_leave_out_refunds_and_orders_after_the_window(shop):
    values = kpi_values(window=Window(DAY))
    # ann 120 + 60, cy 300 − 100; eve's refunded order and her April order are out.
    assert values["orders"] == 3
    assert values["revenue"] == 380.0
    assert values["aov"] == 126.67
    assert values["frequency"] == 1.5  # 3 orders by 2 buyers


def test_activity_repeat_and_retention(shop):
    values = kpi_values(window=Window(DAY))
    # Active: an order in the last 90 days (the default): ann, bob, cy (eve's was refunded).
    assert values["active_members"] == 3
    # Buyers in the window: ann (3 orders by its end) and cy (1): 1 of 2.
    assert values["repeat_rate"] == 50.0
    # Previous window (Jan 31 – Mar 1) buyers: ann and bob; ann bought again.
    assert values["retention_rate"] == 50.0
    assert values["churn_rate"] == 50.0
    assert set(kpi_customers("churn_rate", window=Window(DAY))) == {shop["bob"]}
    assert set(kpi_customers("retention_rate", window=Window(DAY))) == {shop["ann"]}
    assert set(kpi_customers("repeat_rate", window=Window(DAY))) == {shop["ann"]}
    assert set(kpi_customers("new_members", window=Window(DAY))) == {shop["cy"], shop["dee"]}


def test_rates_without_a_denominator_are_none_not_zero():
    values = kpi_values(window=Window(DAY))
    assert values["members"] == 0 and values["orders"] == 0
    for key in ("aov", "frequency", "repeat_rate", "retention_rate", "churn_rate", "nps"):
        assert values[key] is None, key
    assert set(values) == {kpi.key for kpi in DEFINITIONS}


def test_the_window_is_the_business_days_not_utc(shop):
    """eve's April order was placed at 00:10 on April 1st in Shanghai (16:10 UTC on March 31st):
    it belongs to April 1st's window, not March 31st's."""
    april_first = kpi_values(window=Window(dt.date(2026, 4, 1), days=1))
    march_last = kpi_values(window=Window(DAY, days=1))
    assert april_first["orders"] == 1 and april_first["revenue"] == 90.0
    assert march_last["orders"] == 0


def test_a_store_scope_counts_its_orders_and_the_members_enrolled_there(shop):
    north = Scope(store_id=shop["cy"].store_id)
    values = kpi_values(window=Window(DAY), scope=north)
    assert values["members"] == 1  # cy
    assert values["orders"] == 2  # ann's second March order and cy's
    assert values["revenue"] == 260.0
    # Whole-programme figures are not given for a narrower scope.
    assert values["campaign_uplift"] is None and values["retention_roi"] is None


def test_a_tier_scope_counts_its_members(shop):
    ProgrammeFactory()
    gold = TierFactory(slug="gold", rank=2)
    LoyaltyAccount.objects.update_or_create(customer=shop["ann"], defaults={"tier": gold})
    values = kpi_values(window=Window(DAY), scope=Scope(tier_id=gold.pk))
    assert values["members"] == 1
    assert values["orders"] == 2 and values["revenue"] == 180.0


def test_nps_csat_complaints_and_sla(shop, manager):
    survey = SurveyFactory()
    answers = [(10, "promoter", 5), (9, "promoter", 4), (7, "passive", 3), (3, "detractor", 2)]
    for score, group, csat in answers:
        invitation = InvitationFactory(survey=survey, customer=shop["ann"])
        Response.objects.create(
            survey=survey,
            invitation=invitation,
            customer=shop["ann"],
            submitted_at=local(dt.date(2026, 3, 20)),
            channel="email",
            nps_score=score,
            score_group=group,
            csat_score=csat,
        )
    category = CategoryFactory()
    ticket_open(
        customer=shop["cy"],
        category=category,
        subject="Broken cup",
        description="It arrived broken.",
        channel="phone",
        actor=manager,
        at=local(dt.date(2026, 3, 13)),
    )
    values = kpi_values(window=Window(DAY))
    assert values["nps"] == 25.0  # (2 promoters − 1 detractor) / 4
    assert values["csat"] == 50.0  # 5 and 4 of four answers
    assert values["complaint_rate"] == round(1 * 1000 / 3, 2)  # one ticket, three orders
    assert values["sla_compliance"] is None  # nothing resolved in the window
    assert set(kpi_customers("complaint_rate", window=Window(DAY))) == {shop["cy"]}


def test_points_figures_read_the_ledger_up_to_the_end_of_the_day(manager):
    programme = ProgrammeFactory(point_value=Decimal("0.05"))
    member = CustomerFactory()
    points_adjust(customer=member, points=500, reason="Welcome", actor=manager)
    points_adjust(customer=member, points=300, reason="Goodwill", actor=manager)
    points_adjust(customer=member, points=-200, reason="Correction", actor=manager)
    today = timezone.localdate()
    values = kpi_values(window=Window(today))
    assert values["points_issued"] == 800  # a negative adjustment issues nothing
    assert values["points_outstanding"] == 600
    assert values["liability"] == float(Decimal(600) * programme.point_value)
    assert values["points_redeemed"] == 0 and values["points_expired"] == 0
    assert values["breakage"] is None
    # The day before nothing had happened yet.
    assert kpi_values(window=Window(today - dt.timedelta(days=1)))["points_outstanding"] == 0


def test_changes_read_in_points_for_rates_and_per_cent_for_amounts_and_know_which_way_is_good():
    churn = Card(kpi=BY_KEY["churn_rate"], value=30.0, previous=35.5, last_year=None)
    assert churn.vs_previous == {"delta": -5.5, "relative": False, "good": True}
    assert churn.vs_last_year is None
    revenue = Card(kpi=BY_KEY["revenue"], value=1200.0, previous=1000.0, last_year=1500.0)
    assert revenue.vs_previous == {"delta": 20.0, "relative": True, "good": True}
    assert revenue.vs_last_year == {"delta": -20.0, "relative": True, "good": False}
    issued = Card(kpi=BY_KEY["points_issued"], value=10, previous=5, last_year=0)
    assert issued.vs_previous["good"] is None  # neither better nor worse
    assert issued.vs_last_year is None  # no per cent change from nothing
