"""Every staff loyalty page: who may open it, and a query budget independent of the rows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.loyalty.models import CouponBatch, EarnRule, Reward
from apps.loyalty.services import points_adjust
from tests.customers.factories import CustomerFactory
from tests.dashboard import loyalty_fixtures
from tests.dashboard.loyalty_fixtures import rows

pytestmark = pytest.mark.django_db
loyalty_world = loyalty_fixtures.loyalty_world

ROLES = ["agent", "marketer", "manager", "administrator", "member_user"]


def _pages(world):
    m = world["customer"].member_number
    return {
        "programme": reverse("dashboard:loyalty-programme"),
        "rules": reverse("dashboard:loyalty-rule-list"),
        "rule-create": reverse("dashboard:loyalty-rule-create"),
        "rule-edit": reverse("dashboard:loyalty-rule-edit", args=[EarnRule.objects.first().pk]),
        "tiers": reverse("dashboard:loyalty-tier-list"),
        "tier-create": reverse("dashboard:loyalty-tier-create"),
        "tier-edit": reverse("dashboard:loyalty-tier-edit", args=[world["tiers"][1].pk]),
        "rewards": reverse("dashboard:loyalty-reward-list"),
        "reward-create": reverse("dashboard:loyalty-reward-create"),
        "reward-edit": reverse("dashboard:loyalty-reward-edit", args=[world["reward"].pk]),
        "reward-restock": reverse("dashboard:loyalty-reward-restock", args=[world["reward"].pk]),
        "redemptions": reverse("dashboard:loyalty-redemption-list"),
        "coupons": reverse("dashboard:loyalty-coupon-list"),
        "coupon-create": reverse("dashboard:loyalty-coupon-create"),
        "coupon-batch": reverse("dashboard:loyalty-coupon-batch", args=[world["batch"].pk]),
        "coupon-export": reverse(
            "dashboard:loyalty-coupon-export", args=[world["batch"].pk, "csv"]
        ),
        "customer": reverse("dashboard:loyalty-customer", args=[m]),
        "adjust": reverse("dashboard:loyalty-adjust", args=[m]),
        "approvals": reverse("dashboard:loyalty-approval-list"),
        "liability": reverse("dashboard:loyalty-liability"),
        "liability-export": reverse("dashboard:loyalty-liability-export", args=["xlsx"]),
        "ledger": reverse("dashboard:loyalty-ledger"),
    }


# Who may open what (the role grants are in apps/loyalty/migrations/0002).
ALLOWED = {
    "programme": {"manager", "administrator"},
    "rules": {"agent", "marketer", "manager", "administrator"},
    "rule-create": {"marketer", "manager", "administrator"},
    "rule-edit": {"marketer", "manager", "administrator"},
    "tiers": {"agent", "marketer", "manager", "administrator"},
    "tier-create": {"manager", "administrator"},
    "tier-edit": {"manager", "administrator"},
    "rewards": {"agent", "marketer", "manager", "administrator"},
    "reward-create": {"marketer", "manager", "administrator"},
    "reward-edit": {"marketer", "manager", "administrator"},
    "reward-restock": {"marketer", "manager", "administrator"},
    "redemptions": {"agent", "manager", "administrator"},
    "coupons": {"agent", "marketer", "manager", "administrator"},
    "coupon-create": {"marketer", "manager", "administrator"},
    "coupon-batch": {"agent", "marketer", "manager", "administrator"},
    "coupon-export": {"marketer", "manager", "administrator"},
    "customer": {"agent", "marketer", "manager", "administrator"},
    "adjust": {"agent", "manager", "administrator"},
    "approvals": {"manager", "administrator"},
    "liability": {"manager", "administrator"},
    "liability-export": {"manager", "administrator"},
    "ledger": {"manager", "administrator"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_it_is_allowed(client, request, loyalty_world, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    pages = _pages(loyalty_world)
    assert set(pages) == set(ALLOWED)
    got = {name: client.get(url).status_code for name, url in pages.items()}
    expected = {name: 200 if role in ALLOWED[name] else 403 for name in pages}
    assert got == expected


def test_anonymous_visitors_are_sent_to_log_in(client, loyalty_world):
    for url in _pages(loyalty_world).values():
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_unknown_objects_are_404(client, manager, loyalty_world):
    client.force_login(manager)
    for url in [
        reverse("dashboard:loyalty-customer", args=["NOPE0000"]),
        reverse("dashboard:loyalty-adjust", args=["NOPE0000"]),
        reverse("dashboard:loyalty-reward-edit", args=[999999]),
        reverse("dashboard:loyalty-coupon-batch", args=[999999]),
        reverse("dashboard:loyalty-coupon-export", args=[loyalty_world["batch"].pk, "pdf"]),
        reverse("dashboard:loyalty-liability-export", args=["pdf"]),
    ]:
        assert client.get(url).status_code == 404, url


# --- query budgets: the same number of queries with 5 rows or 500 -----------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _budget(client, url, grow, *, limit):
    """Queries with few rows, then after ``grow()`` adds hundreds: equal, and under ``limit``."""
    _queries(client, url)  # warm-up: per-process caches (content types, site settings)
    small = _queries(client, url)
    grow()
    large = _queries(client, url)
    assert small == large, (small, large)
    assert large <= limit


def test_reward_list_budget(client, manager, loyalty_world):
    client.force_login(manager)
    tier = loyalty_world["tiers"][1]
    _budget(
        client,
        reverse("dashboard:loyalty-reward-list"),
        lambda: rows(
            Reward,
            500,
            name=lambda i: f"R{i}",
            slug=lambda i: f"r-{i}",
            kind="physical",
            cost_points=lambda i: 10 + i,
            stock=5,
            min_tier=tier,
        ),
        limit=12,
    )


def test_rule_list_budget(client, manager, loyalty_world):
    client.force_login(manager)

    def grow():
        created = rows(EarnRule, 500, name=lambda i: f"Rule {i}", kind="category", category="tea")
        for rule in created[:60]:
            rule.tiers.add(loyalty_world["tiers"][1])

    # +1: the Administration link asks for the role.
    _budget(client, reverse("dashboard:loyalty-rule-list"), grow, limit=13)


def test_tier_list_budget(client, manager, loyalty_world):
    client.force_login(manager)
    _budget(
        client,
        reverse("dashboard:loyalty-tier-list"),
        lambda: [
            rows(type(loyalty_world["tiers"][0]), 1, name=f"T{i}", slug=f"t{i}", rank=10 + i)
            for i in range(20)
        ],
        limit=12,
    )


def test_coupon_batch_list_budget(client, manager, loyalty_world):
    client.force_login(manager)
    _budget(
        client,
        reverse("dashboard:loyalty-coupon-list"),
        lambda: rows(
            CouponBatch, 500, name=lambda i: f"B{i}", kind="fixed", value=Decimal(5), size=0
        ),
        limit=12,
    )


def _customers_with_points(n, actor):
    for customer in [CustomerFactory() for _ in range(n)]:
        points_adjust(customer=customer, points=100, reason="seed", actor=actor)


def test_redemption_queue_budget(client, manager, loyalty_world):
    from apps.loyalty.services import reward_redeem

    client.force_login(manager)
    root = loyalty_world["root"]

    def grow():
        reward = Reward.objects.create(name="Bag", slug="bag", kind="physical", cost_points=10)
        for i, customer in enumerate([CustomerFactory() for _ in range(60)]):
            points_adjust(customer=customer, points=10, reason="seed", actor=root)
            reward_redeem(customer=customer, reward=reward, key=f"q-{i}")

    _budget(client, reverse("dashboard:loyalty-redemption-list"), grow, limit=12)


def test_approval_queue_budget(client, manager, agent, loyalty_world):
    client.force_login(manager)

    def grow():
        for customer in [CustomerFactory() for _ in range(60)]:
            points_adjust(customer=customer, points=5000, reason="big", actor=agent)

    _budget(client, reverse("dashboard:loyalty-approval-list"), grow, limit=12)


def test_customer_panel_budget_with_a_long_ledger(client, manager, loyalty_world):
    client.force_login(manager)
    customer, root = loyalty_world["customer"], loyalty_world["root"]

    def grow():
        for i in range(80):
            points_adjust(customer=customer, points=10 + i, reason=f"r{i}", actor=root)

    _budget(
        client, reverse("dashboard:loyalty-customer", args=[customer.member_number]), grow, limit=25
    )


def test_liability_budget(client, manager, loyalty_world):
    client.force_login(manager)
    _budget(
        client,
        reverse("dashboard:loyalty-liability"),
        lambda: _customers_with_points(40, loyalty_world["root"]),
        limit=20,
    )


def test_liability_page_shows_outstanding_points_and_value(client, manager, loyalty_world):
    client.force_login(manager)
    response = client.get(reverse("dashboard:loyalty-liability") + "?months=3")
    # 2000 granted − 300 redeemed (the 900 waits for approval)
    assert response.context["total"].outstanding == 1700
    assert response.context["total"].value == Decimal("17.00")
    assert len(response.context["series"]) == 3
    this_month = response.context["series"][-1]
    assert (this_month.issued, this_month.redeemed, this_month.expired) == (2000, 300, 0)
    assert this_month.month == timezone.localdate().replace(day=1)
    assert 'id="liability-data"' in response.content.decode()
