"""How a campaign did, on a campaign built by hand with known outcomes: members, conversions,
revenue per member, the uplift against the holdout, incremental revenue, costs and ROI."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.kpis import Scope, Window, kpi_values
from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Campaign, Message, Variant
from apps.campaigns.results import campaign_results, campaigns_return
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.stats import conversion_uplift, revenue_uplift, roi
from apps.campaigns.tasks import campaign_send_task
from apps.customers.enums import OrderStatus
from apps.loyalty.models import Coupon, CouponUse, EarnRule, PointsTransaction
from apps.loyalty.services import bonus_award, order_ingest
from tests.campaigns.factories import (
    VARIANT,
    broadcast,
    campaign_settings,
    no_quiet_hours,
    reachable,
    split_audience,
)
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

T = timezone.now().replace(microsecond=0) - dt.timedelta(days=30)
DAY = dt.timedelta(days=1)


def _message(campaign, status, variant=None, *, sent=None, created=T, cost="0", **extra):
    return Message.objects.create(
        campaign=campaign,
        step="send",
        customer=CustomerFactory(),
        variant=variant,
        channel="email" if status != MessageStatus.SUPPRESSED or variant else "",
        status=status,
        created_at=created,
        not_before=created,
        sent_at=sent,
        cost=Decimal(cost),
        **extra,
    )


def _order(message, total, at, status=OrderStatus.PAID, store=None):
    return OrderFactory(
        customer=message.customer,
        total=Decimal(total),
        placed_at=at,
        status=status,
        **({"store": store} if store else {}),
    )


@pytest.fixture
def world(db):
    """Six treated (four in A, two in B), four held out, one suppressed when placed."""
    campaign = Campaign.objects.create(
        name="Autumn", kind="broadcast", status="completed", holdout_percent=40, conversion_days=14
    )
    a = Variant.objects.create(campaign=campaign, label="A")
    b = Variant.objects.create(campaign=campaign, label="B")
    sent, delivered, failed = MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED
    m = {
        "a1": _message(campaign, sent, a, sent=T, cost="0.50"),
        "a2": _message(
            campaign, delivered, a, sent=T, cost="0.50", delivered_at=T, opened_at=T, clicked_at=T
        ),
        "a3": _message(campaign, failed, a, sent=T, cost="0.50", error="SmsSendFailed: refused"),
        # Suppressed at send time (withdrew consent): still treated, measured from placement.
        "a4": _message(
            campaign,
            MessageStatus.SUPPRESSED,
            a,
            created=T + dt.timedelta(hours=1),
            reason=Suppression.UNSUBSCRIBED,
        ),
        "b1": _message(campaign, sent, b, sent=T, cost="0.50"),
        "b2": _message(campaign, sent, b, sent=T, cost="0.50", unsubscribed_at=T + DAY),
        "h1": _message(campaign, MessageStatus.HOLDOUT),
        "h2": _message(campaign, MessageStatus.HOLDOUT),
        "h3": _message(campaign, MessageStatus.HOLDOUT),
        "h4": _message(campaign, MessageStatus.HOLDOUT),
        # Suppressed when placed: in neither group.
        "s1": _message(campaign, MessageStatus.SUPPRESSED, reason=Suppression.NO_CONSENT),
    }
    orders = {
        "a1": _order(m["a1"], "100.00", T + DAY),
        "a1_before": _order(m["a1"], "500.00", T - dt.timedelta(hours=1)),  # before the send
        "a2": _order(m["a2"], "50.00", T + 14 * DAY),  # the window's end: out
        "a3": _order(m["a3"], "20.00", T),  # the window's start: in
        "a4": _order(m["a4"], "10.00", T + dt.timedelta(hours=1) + 2 * DAY),
        "b1": _order(m["b1"], "80.00", T + DAY, OrderStatus.REFUNDED),  # fully refunded
        "b2": _order(m["b2"], "50.00", T + 3 * DAY),
        "h1": _order(m["h1"], "60.00", T + 2 * DAY),
        "h2": _order(m["h2"], "40.00", T + 14 * DAY),  # the window's end: out
        "s1": _order(m["s1"], "999.00", T + DAY),
    }
    return campaign, m, orders


def test_groups_conversions_and_revenue_per_member(world):
    campaign, _m, _orders = world

    results = campaign_results(campaign=campaign)

    assert results.window_days == 14
    treated, holdout = results.treated, results.holdout
    assert (treated.members, treated.conversions, treated.revenue) == (6, 4, Decimal("180.00"))
    assert (holdout.members, holdout.conversions, holdout.revenue) == (4, 1, Decimal("60.00"))
    assert (treated.revenue_per_member, holdout.revenue_per_member) == (
        Decimal("30.00"),
        Decimal("15.00"),
    )
    assert sorted(treated.values) == [0.0, 0.0, 10.0, 20.0, 50.0, 100.0]
    assert sorted(holdout.values) == [0.0, 0.0, 0.0, 60.0]
    by_label = {v.group.label: v.group for v in results.variants}
    assert {k: (g.members, g.conversions, g.revenue) for k, g in by_label.items()} == {
        "A": (4, 3, Decimal("130.00")),
        "B": (2, 1, Decimal("50.00")),
    }
    assert results.winner is None  # two and four members decide nothing


def test_the_uplift_against_the_holdout_by_hand(world):
    campaign, _m, _orders = world

    results = campaign_results(campaign=campaign)

    assert results.conversion == conversion_uplift(6, 4, 4, 1)
    pooled = 5 / 10
    z = (4 / 6 - 1 / 4) / math.sqrt(pooled * (1 - pooled) * (1 / 6 + 1 / 4))
    assert results.conversion.z == pytest.approx(z, rel=1e-12)
    assert results.conversion.z == pytest.approx(1.2909944487, rel=1e-9)
    assert results.conversion.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert results.conversion.significant is False
    assert results.revenue == revenue_uplift(
        [100.0, 0.0, 20.0, 10.0, 0.0, 50.0], [60.0, 0.0, 0.0, 0.0]
    )
    assert (results.revenue.treated_mean, results.revenue.control_mean) == (30.0, 15.0)
    assert results.incremental_revenue == Decimal("90.00")  # (30 − 15) × 6


def test_reach_and_engagement(world):
    campaign, _m, _orders = world

    results = campaign_results(campaign=campaign)

    assert results.by_status == {
        "sent": 3,
        "delivered": 1,
        "failed": 1,
        "suppressed": 2,
        "holdout": 4,
    }
    assert results.by_reason == {"unsubscribed": 1, "no_consent": 1}
    assert results.by_channel == {"email": 4}
    assert (results.reached, results.delivered, results.opened, results.clicked) == (4, 1, 1, 1)
    assert results.unsubscribed == 1


def test_costs_and_roi(world):
    campaign, m, orders = world
    store = orders["a1"].store
    ours = Coupon.objects.create(
        code="AUTUMN-1", kind="fixed", value=10, source_ref=f"campaign:{campaign.pk}"
    )
    theirs = Coupon.objects.create(code="OTHER-1", kind="fixed", value=7, source_ref="campaign:0")
    for coupon, discount, order in ((ours, "10.00", orders["a1"]), (theirs, "7.00", orders["b2"])):
        CouponUse.objects.create(
            coupon=coupon,
            customer=order.customer,
            order=order,
            store=store,
            order_external_id=order.external_id,
            discount=Decimal(discount),
        )
    bonus_award(
        customer=m["a1"].customer, points=200, key="c:1", reason="t", campaign_id=campaign.pk
    )
    bonus_award(customer=m["a1"].customer, points=900, key="other:1", reason="not the campaign's")

    results = campaign_results(campaign=campaign)

    assert (results.message_cost, results.coupon_cost, results.points_cost) == (
        Decimal("2.50"),  # five messages handed to a back-end at ¥0.50
        Decimal("10.00"),
        Decimal("2.00"),  # 200 points at ¥0.01
    )
    assert results.costs == Decimal("14.50")
    assert results.roi == Decimal("5.2069")  # (90 − 14.50) / 14.50
    assert results.roi == roi(Decimal("90.00"), Decimal("14.50"))


def test_a_campaign_that_cost_nothing_has_no_roi(world):
    campaign, _m, _orders = world
    Message.objects.filter(campaign=campaign).update(cost=0)

    results = campaign_results(campaign=campaign)

    assert (results.costs, results.incremental_revenue, results.roi) == (0, Decimal("90.00"), None)


def test_the_default_window_comes_from_the_settings(world):
    campaign, _m, _orders = world
    Campaign.objects.filter(pk=campaign.pk).update(conversion_days=None)
    campaign_settings(conversion_days=2)

    results = campaign_results(campaign=Campaign.objects.get(pk=campaign.pk))

    # Only a1 (day 1) and a3 (day 0) of the treated, nobody of the holdout (day 2 is out).
    assert results.window_days == 2
    assert (results.treated.conversions, results.treated.revenue) == (2, Decimal("120.00"))
    assert (results.holdout.conversions, results.holdout.revenue) == (0, Decimal(0))


def test_without_a_holdout_there_is_no_uplift_and_no_roi(db):
    campaign = Campaign.objects.create(name="All in", kind="broadcast", holdout_percent=0)
    variant = Variant.objects.create(campaign=campaign, label="A")
    message = _message(campaign, MessageStatus.SENT, variant, sent=T, cost="1.00")
    _order(message, "40.00", T + DAY)

    results = campaign_results(campaign=campaign)

    assert (results.treated.members, results.treated.conversions) == (1, 1)
    assert results.holdout.members == 0 and results.has_holdout is False
    assert results.incremental_revenue == Decimal(0)
    assert results.roi is None
    assert results.conversion.enough_data is False and results.conversion.z is None


# --- bugs ----------------------------------------------------------------------------------


def test_incremental_revenue_is_exact_to_the_cent(db):
    campaign = Campaign.objects.create(name="Thirds", kind="broadcast", holdout_percent=50)
    variant = Variant.objects.create(campaign=campaign, label="A")
    buyer = _message(campaign, MessageStatus.SENT, variant, sent=T)
    _order(buyer, "100.00", T + DAY)
    for _ in range(2):
        _message(campaign, MessageStatus.SENT, variant, sent=T)
    for _ in range(3):
        _message(campaign, MessageStatus.HOLDOUT)

    assert campaign_results(campaign=campaign).incremental_revenue == Decimal("100.00")


def test_a_message_that_failed_to_render_costs_nothing(marketer):
    no_quiet_hours()
    body = "{% if points < 1000 %}{{ points + first_name }}{% else %}ok{% endif %}"
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        cost_per_message=Decimal("0.50"),
        variants=[dict(VARIANT, body_en=body)],
    )
    (poor,) = reachable(1, "email")
    campaign_send_task(campaign_start(campaign=campaign, actor=marketer).pk)
    assert Message.objects.get(campaign=campaign, customer=poor).status == MessageStatus.FAILED

    campaign.refresh_from_db()
    assert campaign_results(campaign=campaign).message_cost == Decimal(0)
    assert campaign.spent == Decimal(0)


def test_a_multipliers_extra_points_are_a_cost(marketer):
    no_quiet_hours()
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        holdout_percent=50,
        offer_kind="multiplier",
        multiplier=Decimal(2),
        multiplier_days=7,
    )
    (recipient,), _held = split_audience(campaign, treated=1, holdout=1)
    campaign = campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    # The earn rule given an end, so that the multiplier applies at all (see test_offers).
    EarnRule.objects.filter(campaign=campaign).update(ends_at=timezone.now() + 30 * DAY)
    order, _created, _outcome = order_ingest(
        store=StoreFactory(),
        external_id="X-1",
        customer=recipient,
        placed_at=timezone.now(),
        total=Decimal("100.00"),
    )
    earned = PointsTransaction.objects.get(order=order)
    assert (earned.pending_points, earned.campaign_id) == (200, campaign.pk)

    # 200 points earned, 100 of them the multiplier's, at ¥0.01.
    assert campaign_results(campaign=campaign).points_cost == Decimal("1.00")


def test_the_kpi_dashboard_reads_uplift_spending_and_roi_for_the_members_assigned_in_its_window(
    world,
):
    """The campaigns' KPIs (apps/campaigns/kpis.py): the same uplift as the campaign's own page
    for members assigned inside the window, nothing for a window after it."""
    day = timezone.localdate(T) + DAY
    back = campaigns_return(start=Window(day).start, end=Window(day).end)
    assert back.incremental_revenue == Decimal("90.00")  # as campaign_results: (30 − 15) × 6
    assert back.costs == Decimal("2.50")  # five messages at ¥0.50
    values = kpi_values(window=Window(day))
    assert values["campaign_uplift"] == 90.0
    assert values["retention_cost"] == 2.5  # no rewards redeemed, no compensation
    assert values["retention_roi"] == 3500.0  # (90 − 2.50) / 2.50
    later = Window(day + 40 * DAY)
    assert campaigns_return(start=later.start, end=later.end) == type(back)(Decimal(0), Decimal(0))
    assert kpi_values(window=later)["retention_roi"] is None  # nothing spent
    assert kpi_values(window=Window(day), scope=Scope(store_id=1))["campaign_uplift"] is None
