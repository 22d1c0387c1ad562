"""Member loyalty pages: points and tier, rewards and redemptions, the coupon wallet, referrals
and the public referral landing. Scoping (another member's ids are 404), a redemption spends
once per form key, refusals change nothing, and every list page has a flat query budget."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.customers.models import Customer
from apps.loyalty.models import (
    Coupon,
    CustomerBadge,
    LoyaltyAccount,
    PointsTransaction,
    Redemption,
    Referral,
    ReferralCode,
    Reward,
)
from apps.loyalty.services import bonus_award, coupon_issue, referral_code_for, reward_redeem
from tests.conftest import enrolled_member, verified_user
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.loyalty.factories import BadgeFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db

LOYALTY_URLS = ["portal:points", "portal:rewards", "portal:coupons", "portal:referrals"]


@pytest.fixture
def programme(db):
    # No sign-up bonus, so the figures below are exactly what each test gives.
    return ProgrammeFactory(
        signup_bonus=0, pending_days=14, referrer_bonus=300, referee_bonus=200, expiry_months=12
    )


@pytest.fixture
def tiers(programme):
    return {
        "member": TierFactory(
            slug="member", name="Member", rank=0, benefits="Birthday bonus", color="#6c757d"
        ),
        "silver": TierFactory(
            slug="silver",
            name="Silver",
            rank=1,
            threshold=Decimal(1000),
            benefits="Birthday bonus\nFree gift wrapping",
            color="#8d99ae",
        ),
        "gold": TierFactory(
            slug="gold",
            name="Gold",
            rank=2,
            metric="points",
            threshold=Decimal(5000),
            benefits="Free delivery",
            color="#c9a227",
        ),
    }


@pytest.fixture
def mia(tiers):
    return enrolled_member("mia@test.local")


@pytest.fixture
def olly(tiers):
    return enrolled_member("olly@test.local", first_name="Olly")


def give(customer, points: int, *, key: str, at=None) -> None:
    bonus_award(customer=customer, points=points, key=key, reason="Welcome gift", at=at)


def balance(customer) -> int:
    return LoyaltyAccount.objects.get(customer=customer).balance


def voucher(**kwargs) -> Reward:
    defaults = {
        "name": "Tea voucher",
        "slug": "tea-voucher",
        "kind": "voucher",
        "cost_points": 200,
        "coupon_kind": "fixed",
        "coupon_value": Decimal(20),
    }
    return RewardFactory(**{**defaults, **kwargs})


def form_key(client, reward) -> str:
    response = client.get(reverse("portal:reward-redeem", args=[reward.slug]))
    assert response.status_code == 200
    return str(response.context["form"].initial["key"])


def text(response) -> str:
    """The page's text with whitespace collapsed (templates wrap freely)."""
    return re.sub(r"\s+", " ", response.content.decode())


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOYALTY_URLS)
def test_loyalty_pages_need_login_render_for_a_member_and_are_never_cached(client, mia, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(mia[0])
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.parametrize("name", LOYALTY_URLS)
def test_signed_in_user_without_membership_is_sent_to_join(client, tiers, name):
    client.force_login(verified_user("new@test.local"))
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"] == reverse("portal:join")


# --- points -------------------------------------------------------------------------------------


def test_points_page_shows_balance_tier_progress_and_benefits(client, mia, settings):
    user, customer = mia
    give(customer, 1250, key="t:gift")
    OrderFactory(customer=customer, total=Decimal("400.00"))  # Silver needs 1,000 spent
    client.force_login(user)
    html = text(client.get(reverse("portal:points")))
    assert 'data-testid="points-balance">1,250<' in html
    assert 'data-testid="points-lifetime">1,250<' in html
    assert 'data-testid="points-pending">0<' in html
    assert "<strong>¥600 more</strong> to go to Silver" in html
    assert 'aria-valuenow="40"' in html
    assert "Free gift wrapping" in html  # what Silver adds
    assert "Silver adds" in html and "Your benefits" in html
    assert "stay pending for 14 days" in html


def test_points_tier_progress_counts_points_for_a_points_tier(client, mia, tiers):
    user, customer = mia
    give(customer, 100, key="t:gift")
    LoyaltyAccount.objects.filter(customer=customer).update(
        tier=tiers["silver"], tier_review_at=dt.date(2031, 3, 31)
    )
    client.force_login(user)
    html = text(client.get(reverse("portal:points")))
    # Bonuses do not qualify for a points tier: all 5,000 purchase points are still to go.
    assert "<strong>5,000 points</strong> to go to Gold" in html
    assert "Tier review on 31 Mar 2031" in html  # DATE_FORMAT of config/formats/en
    assert "Free delivery" in html


def test_points_expiring_soon_are_grouped_by_day(client, mia):
    user, customer = mia
    earned = timezone.now() - dt.timedelta(days=350)  # expires in about two weeks
    give(customer, 70, key="t:old1", at=earned)
    give(customer, 30, key="t:old2", at=earned)
    give(customer, 500, key="t:new")
    client.force_login(user)
    response = client.get(reverse("portal:points"))
    expiring = response.context["summary"].expiring
    assert [e["points"] for e in expiring] == [100]
    assert "100 points" in text(response).split('data-testid="expiring"')[1]


def test_points_history_is_paginated_25_a_page_with_signed_points(client, mia):
    user, customer = mia
    for i in range(30):
        give(customer, 10 + i, key=f"t:{i}")
    reward_redeem(customer=customer, reward=RewardFactory(cost_points=45), key="t:redeem")
    client.force_login(user)
    first = client.get(reverse("portal:points"))
    assert len(first.context["page_obj"].object_list) == 25
    html = text(first)
    # 10 + 11 + … + 39 = 735 given, 45 spent: the newest row comes first (a true minus sign).
    assert re.search(r'pts-minus">\u221245<.*?Balance 690<', html)
    assert 'pts-plus">+39<' in html and "1–25 of 31" in html
    second = client.get(reverse("portal:points") + "?page=2")
    assert len(second.context["page_obj"].object_list) == 6


def test_badges_are_listed(client, mia):
    user, customer = mia
    CustomerBadge.objects.create(
        customer=customer, badge=BadgeFactory(name="First purchase", icon="bag-heart")
    )
    client.force_login(user)
    html = text(client.get(reverse("portal:points")))
    assert "First purchase" in html and "bi-bag-heart" in html


# --- rewards and redemptions --------------------------------------------------------------------


def test_catalogue_shows_cost_low_stock_and_why_not(client, mia, tiers):
    user, customer = mia
    give(customer, 150, key="t:gift")
    voucher(cost_points=100, stock=3)
    RewardFactory(name="Silk scarf", slug="scarf", cost_points=400)
    RewardFactory(name="Gold lounge", slug="lounge", cost_points=50, min_tier=tiers["gold"])
    client.force_login(user)
    html = text(client.get(reverse("portal:rewards")))
    assert 'data-testid="rewards-balance">150<' in html
    assert "Only 3 left" in html
    assert "You need 250 more points." in html
    assert "For Gold members and above." in html
    assert html.count(" disabled>") == 2
    assert reverse("portal:reward-redeem", args=["tea-voucher"]) in html
    assert reverse("portal:reward-redeem", args=["scarf"]) not in html


def test_redeem_confirmation_shows_cost_and_balances_with_a_one_time_key(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    reward = voucher()
    client.force_login(user)
    response = client.get(reverse("portal:reward-redeem", args=[reward.slug]))
    html = text(response)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert 'data-testid="balance-before">500<' in html
    assert 'data-testid="balance-after">300<' in html
    key = str(response.context["form"].initial["key"])
    assert f'type="hidden" name="key" value="{key}"' in html
    # Each showing of the page mints a new key.
    assert form_key(client, reward) != key


def test_the_same_form_posted_twice_redeems_once(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    reward = voucher()
    client.force_login(user)
    url = reverse("portal:reward-redeem", args=[reward.slug])
    key = form_key(client, reward)
    first = client.post(url, {"key": key})
    second = client.post(url, {"key": key})
    redemption = Redemption.objects.get()
    detail = reverse("portal:redemption-detail", args=[redemption.pk])
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == detail
    assert balance(customer) == 300
    assert PointsTransaction.objects.filter(kind="redeem").count() == 1
    assert redemption.idempotency_key == f"portal:{customer.pk}:{key}"
    assert redemption.channel == "portal"
    page = client.get(detail)
    html = text(page)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert f'data-code="{redemption.voucher_code}"' in html
    assert 'class="member-qr"' in html  # the voucher as a QR code
    assert 'data-testid="points-spent">200<' in html
    assert reverse("portal:coupons") in html
    assert reverse("portal:redemption-cancel", args=[redemption.pk]) not in html
    # A new form (new key) is a new redemption.
    client.post(url, {"key": form_key(client, reward)})
    assert Redemption.objects.count() == 2 and balance(customer) == 100


def test_refused_redemption_for_lack_of_points_changes_nothing(client, mia):
    user, customer = mia
    give(customer, 100, key="t:gift")
    reward = voucher(stock=5)
    client.force_login(user)
    response = client.post(
        reverse("portal:reward-redeem", args=[reward.slug]), {"key": form_key(client, reward)}
    )
    assert response.status_code == 200
    assert "This needs 200 points; the balance is 100." in text(response)
    assert balance(customer) == 100 and Redemption.objects.count() == 0
    assert PointsTransaction.objects.filter(account__customer=customer).count() == 1
    assert Coupon.objects.count() == 0
    reward.refresh_from_db()
    assert reward.stock == 5


def test_refused_redemption_below_the_minimum_tier_changes_nothing(client, mia, tiers):
    user, customer = mia
    give(customer, 1000, key="t:gift")
    reward = RewardFactory(slug="lounge", cost_points=100, min_tier=tiers["gold"])
    client.force_login(user)
    url = reverse("portal:reward-redeem", args=[reward.slug])
    confirm = text(client.get(url))
    assert "For Gold members and above." in confirm and " disabled>" in confirm
    response = client.post(
        url, {"key": form_key(client, reward), "handover": "delivery", "delivery_address": "1 Rd"}
    )
    assert response.status_code == 200
    assert "This reward is for Gold members and above." in text(response)
    assert balance(customer) == 1000 and Redemption.objects.count() == 0


def test_unknown_or_inactive_reward_is_not_found(client, mia):
    client.force_login(mia[0])
    RewardFactory(slug="retired", is_active=False)
    for slug in ("nope", "retired"):
        url = reverse("portal:reward-redeem", args=[slug])
        assert client.get(url).status_code == 404
        assert client.post(url, {"key": "7c1b7f5e-0000-4000-8000-000000000000"}).status_code == 404


def test_a_tampered_key_redeems_nothing(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    reward = voucher()
    client.force_login(user)
    response = client.post(reverse("portal:reward-redeem", args=[reward.slug]), {"key": "x"})
    assert response.status_code == 200 and Redemption.objects.count() == 0


def test_another_members_redemption_is_not_found(client, mia, olly):
    _u, theirs = olly
    give(theirs, 500, key="t:olly")
    gift = RewardFactory(slug="mug", cost_points=300, stock=4)
    redemption = reward_redeem(customer=theirs, reward=gift, key="olly:1")
    client.force_login(mia[0])
    assert client.get(reverse("portal:redemption-detail", args=[redemption.pk])).status_code == 404
    cancel = reverse("portal:redemption-cancel", args=[redemption.pk])
    assert client.get(cancel).status_code == 404
    assert client.post(cancel).status_code == 404
    redemption.refresh_from_db()
    gift.refresh_from_db()
    assert redemption.status == "requested" and balance(theirs) == 200 and gift.stock == 3
    html = text(client.get(reverse("portal:rewards")))
    assert reverse("portal:redemption-detail", args=[redemption.pk]) not in html


def test_member_cancels_a_requested_physical_reward_and_gets_the_points_back(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    gift = RewardFactory(name="Tea mug", slug="mug", cost_points=300, stock=4)
    client.force_login(user)
    client.post(
        reverse("portal:reward-redeem", args=[gift.slug]),
        {"key": form_key(client, gift), "handover": "delivery", "delivery_address": "1 Tea Rd"},
    )
    redemption = Redemption.objects.get()
    assert redemption.status == "requested" and balance(customer) == 200
    detail = reverse("portal:redemption-detail", args=[redemption.pk])
    cancel = reverse("portal:redemption-cancel", args=[redemption.pk])
    assert cancel in text(client.get(detail))
    confirm = client.get(cancel)
    assert confirm.status_code == 200 and "Yes, cancel it" in text(confirm)
    assert balance(customer) == 200  # the confirmation page changes nothing
    response = client.post(cancel)
    assert response.status_code == 302 and response["Location"] == detail
    redemption.refresh_from_db()
    gift.refresh_from_db()
    assert redemption.status == "cancelled" and balance(customer) == 500 and gift.stock == 4
    reverse_tx = PointsTransaction.objects.get(kind="reverse")
    assert reverse_tx.reason == "Cancelled by the member" and reverse_tx.actor is None
    page = text(client.get(detail, follow=True))
    assert "300 points are back in your balance" in page and cancel not in page
    # Twice: refused, nothing more given back.
    again = client.post(cancel, follow=True)
    assert "can no longer be cancelled" in text(again)
    assert (
        balance(customer) == 500 and PointsTransaction.objects.filter(kind="reverse").count() == 1
    )


def test_member_cannot_cancel_a_voucher(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    redemption = reward_redeem(customer=customer, reward=voucher(), key="k")
    client.force_login(user)
    cancel = reverse("portal:redemption-cancel", args=[redemption.pk])
    for response in (client.get(cancel), client.post(cancel)):
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:redemption-detail", args=[redemption.pk])
    redemption.refresh_from_db()
    assert redemption.status == "fulfilled" and balance(customer) == 300


# --- coupons ------------------------------------------------------------------------------------


def test_coupon_wallet_sections(client, mia, olly, settings):
    user, customer = mia
    active = coupon_issue(
        owner=customer, kind="fixed", value=Decimal(20), min_spend=Decimal(100), valid_days=30
    )
    percent = coupon_issue(owner=customer, kind="percent", value=Decimal(15), valid_days=0)
    shipping = coupon_issue(owner=customer, kind="free_shipping", value=Decimal(0))
    used = coupon_issue(owner=customer, kind="fixed", value=Decimal(5))
    Coupon.objects.filter(pk=used.pk).update(uses=1)
    expired = coupon_issue(owner=customer, kind="fixed", value=Decimal(8))
    Coupon.objects.filter(pk=expired.pk).update(valid_until=timezone.now() - dt.timedelta(days=1))
    switched_off = coupon_issue(owner=customer, kind="fixed", value=Decimal(9))
    Coupon.objects.filter(pk=switched_off.pk).update(is_active=False)
    foreign = coupon_issue(owner=olly[1], kind="fixed", value=Decimal(50))
    client.force_login(user)
    html = text(client.get(reverse("portal:coupons")))
    assert 'data-testid="count-active">3<' in html
    assert 'data-testid="count-used">1<' in html
    assert 'data-testid="count-expired">2<' in html
    for coupon in (active, percent, shipping, used, expired, switched_off):
        assert f'data-code="{coupon.code}"' in html
    assert foreign.code not in html
    assert "¥20 off" in html and "15% off" in html
    assert "Free shipping" in html
    assert "Minimum spend ¥100" in html and "no end date" in html
    # A QR code only for the three usable coupons, each behind a <details>.
    assert html.count('class="member-qr"') == 3 and html.count("<details>") == 3
    assert "No longer valid" in html and "Expired" in html


# --- referrals ----------------------------------------------------------------------------------


def test_referral_page_shows_code_absolute_link_bonuses_and_friends(client, mia):
    user, customer = mia
    friend = CustomerFactory(first_name="Lin", last_name="Wei")
    client.force_login(user)
    html = text(client.get(reverse("portal:referrals")))
    code = ReferralCode.objects.get(customer=customer).code
    Referral.objects.create(referrer=customer, referee=friend, code=code)
    assert f'data-testid="referral-code">{code}<' in html
    assert f'value="http://testserver/r/{code}/"' in html
    assert "You get 300 points, your friend gets 200 points when they first buy." in html
    html = text(client.get(reverse("portal:referrals")))
    assert "Lin W." in html and "Wei" not in html
    assert "Waiting for first purchase" in html
    # The code stays the same on every visit.
    assert ReferralCode.objects.get(customer=customer).code == code


def test_referral_link_then_join_registers_the_referral(client, mia):
    _u, referrer = mia
    code = referral_code_for(customer=referrer).code
    landing = client.get(reverse("portal:referral-landing", args=[code]))
    html = text(landing)
    assert landing.status_code == 200 and "Mia invited you" in html
    assert "200 bonus points" in html
    assert client.session["referral_code"] == code
    assert reverse("account_signup") in html and reverse("account_login") in html

    newcomer = verified_user("new@test.local")
    client.force_login(newcomer)
    join = client.get(reverse("portal:join"))
    assert f'name="referral_code" value="{code}"' in text(join)
    response = client.post(
        reverse("portal:join"),
        {"action": "enrol", "first_name": "Nia", "last_name": "New", "referral_code": code},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:overview")
    referral = Referral.objects.get()
    assert referral.referrer == referrer and referral.referee.user == newcomer
    assert referral.status == "pending"
    assert "referral_code" not in client.session
    assert "you both get bonus points" in text(response)


def test_join_with_a_refused_referral_code_keeps_the_membership(client, tiers):
    user = verified_user("new@test.local")
    client.force_login(user)
    response = client.post(
        reverse("portal:join"),
        {"action": "enrol", "first_name": "Nia", "referral_code": " zzzz-zzzz "},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:overview")
    assert Customer.objects.filter(user=user).exists()
    assert Referral.objects.count() == 0
    html = text(response)
    assert "The referral code could not be used: There is no referral code" in html


def test_referral_code_longer_than_20_characters_is_a_form_error(client, tiers):
    user = verified_user("new@test.local")
    client.force_login(user)
    response = client.post(
        reverse("portal:join"), {"action": "enrol", "first_name": "Nia", "referral_code": "X" * 21}
    )
    assert response.status_code == 200
    assert response.context["enrol_form"].errors["referral_code"]
    # Neither a membership nor a referral was written.
    assert not Customer.objects.filter(user=user).exists()
    assert Referral.objects.count() == 0


def test_unknown_referral_code_is_not_found(client, tiers):
    response = client.get(reverse("portal:referral-landing", args=["ZZZZZZZZ"]))
    assert response.status_code == 404
    assert "referral_code" not in client.session


def test_a_member_opening_a_referral_link_keeps_nothing(client, mia, olly):
    code = referral_code_for(customer=olly[1]).code
    client.force_login(mia[0])
    response = client.get(reverse("portal:referral-landing", args=[code]))
    assert response.status_code == 200 and "already a member" in text(response)
    assert "referral_code" not in client.session


# --- navigation and overview --------------------------------------------------------------------


def test_overview_shows_points_summary_and_tiles(client, mia, settings):
    user, customer = mia
    give(customer, 1250, key="t:gift")
    client.force_login(user)
    html = text(client.get(reverse("portal:overview")))
    assert 'data-testid="overview-balance">1,250<' in html
    assert "<strong>¥1,000 more</strong> to go to Silver" in html
    for name in ("portal:points", "portal:rewards", "portal:coupons", "portal:referrals"):
        assert f'href="{reverse(name)}"' in html
    assert f'href="{reverse("portal:messages")}"' in html
    assert f'href="{reverse("portal:privacy")}"' in html
    tabbar = html.split('class="portal-tabbar')[1].split("</nav>")[0]
    assert tabbar.count("<a ") == 5


# --- query budgets ------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _fill(customer, n: int, tag: str) -> None:
    for i in range(n):
        give(customer, 100, key=f"q:{tag}:{i}")
        CustomerBadge.objects.create(customer=customer, badge=BadgeFactory(slug=f"b-{tag}-{i}"))
        reward = RewardFactory(slug=f"r-{tag}-{i}", cost_points=10, stock=3)
        reward_redeem(customer=customer, reward=reward, key=f"q:{tag}:{i}")
        coupon_issue(owner=customer, kind="percent", value=Decimal(10))
        friend = CustomerFactory()
        Referral.objects.create(referrer=customer, referee=friend, code="ABCDEFGH")


@pytest.mark.parametrize("name", ["portal:overview", *LOYALTY_URLS])
def test_query_count_does_not_grow_with_rows(client, mia, olly, name):
    few, many = mia[1], olly[1]
    _fill(few, 5, "few")
    _fill(many, 50, "many")
    Reward.objects.update(stock=3)
    url = reverse(name)
    client.force_login(mia[0])
    _count(client, url)  # warm: the referral code is created on the first visit
    few_count = _count(client, url)
    client.force_login(olly[0])
    _count(client, url)
    many_count = _count(client, url)
    assert few_count == many_count
    assert few_count <= 18  # 7 of them are the session, the user and allauth's user session


def test_a_gift_asks_where_to_collect_or_deliver_it(client, mia, store):
    user, customer = mia
    give(customer, 1000, key="t:gift")
    gift = RewardFactory(name="Tea mug", slug="mug", cost_points=300)
    client.force_login(user)
    url = reverse("portal:reward-redeem", args=[gift.slug])
    page = text(client.get(url))
    assert "Collect it at a store" in page and f'<option value="{store.pk}"' in page
    missing = client.post(url, {"key": form_key(client, gift), "handover": "pickup"})
    assert missing.status_code == 200 and Redemption.objects.count() == 0
    assert "Choose the store where you will collect it." in text(missing)
    client.post(
        url, {"key": form_key(client, gift), "handover": "pickup", "pickup_store": store.pk}
    )
    redemption = Redemption.objects.get()
    assert (redemption.pickup_store, redemption.delivery_address) == (store, "")
    detail = text(client.get(reverse("portal:redemption-detail", args=[redemption.pk])))
    assert "Collect at" in detail and "Shanghai Jing" in detail


def test_a_voucher_asks_nothing_about_delivery(client, mia):
    user, customer = mia
    give(customer, 500, key="t:gift")
    reward = voucher()
    client.force_login(user)
    page = text(client.get(reverse("portal:reward-redeem", args=[reward.slug])))
    assert "Collect it at a store" not in page
