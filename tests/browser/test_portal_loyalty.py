"""A member with points signs in on a phone, reads their points and tier, redeems a voucher,
sees the code on the redemption page and then in the coupon wallet; referrals and the overview
too. A friend opens the member's invitation, signs up and is referred. Also a desktop pass over
the same pages. Screenshots under var/screenshots/."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from apps.loyalty.models import CustomerBadge, LoyaltyAccount, Redemption, Referral
from apps.loyalty.services import bonus_award, coupon_issue, referral_code_for
from tests.browser.conftest import SCREENSHOTS, login, screenshot
from tests.conftest import enrolled_member
from tests.customers.factories import OrderFactory
from tests.loyalty.factories import BadgeFactory, ProgrammeFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loyal_member():
    ProgrammeFactory(signup_bonus=0, referrer_bonus=300, referee_bonus=200, expiry_months=12)
    TierFactory(slug="member", name="Member", rank=0, benefits="Birthday bonus\nMember prices")
    TierFactory(
        slug="silver",
        name="Silver",
        rank=1,
        threshold=Decimal(1000),
        color="#8d99ae",
        benefits="Birthday bonus\nMember prices\nFree gift wrapping\nDouble points on Tuesdays",
    )
    TierFactory(slug="gold", name="Gold", rank=2, threshold=Decimal(5000), color="#c9a227")
    _user, customer = enrolled_member(
        "wei.lin@example.org", first_name="Wei", last_name="Lin", full_name="Wei Lin"
    )
    earned = timezone.now() - dt.timedelta(days=340)
    bonus_award(customer=customer, points=150, key="demo:old", reason="Spring promotion", at=earned)
    bonus_award(customer=customer, points=1000, key="demo:gift", reason="Welcome gift")
    bonus_award(customer=customer, points=80, key="demo:review", reason="Thank you for a review")
    OrderFactory(customer=customer, total=Decimal("420.00"))
    CustomerBadge.objects.create(
        customer=customer, badge=BadgeFactory(slug="first", name="First purchase", icon="bag-heart")
    )
    RewardFactory(
        name="Tea voucher",
        slug="tea-voucher",
        kind="voucher",
        cost_points=500,
        coupon_kind="fixed",
        coupon_value=Decimal(30),
        coupon_min_spend=Decimal(150),
        description="30 off your next order of 150 or more.",
    )
    RewardFactory(name="Celadon tea mug", slug="mug", kind="physical", cost_points=900, stock=3)
    RewardFactory(name="Tasting evening", slug="tasting", kind="experience", cost_points=5000)
    RewardFactory(
        name="Gold lounge pass",
        slug="lounge",
        kind="experience",
        cost_points=300,
        min_tier=TierFactory(slug="gold"),
    )
    coupon_issue(owner=customer, kind="percent", value=Decimal(10), valid_days=14)
    return customer


def test_member_redeems_a_voucher_on_a_phone(loyal_member, phone_page):
    page = phone_page
    login(page, "wei.lin@example.org")
    page.wait_for_url(re.compile(r"/me/$"))
    expect(page.get_by_test_id("overview-balance")).to_have_text("1,230")
    screenshot(page, "portal-loyalty-phone-01-overview")

    page.click(".portal-tabbar >> text=Points")
    page.wait_for_url(re.compile(r"/me/points/$"))
    expect(page.get_by_test_id("points-balance")).to_have_text("1,230")
    expect(page.get_by_test_id("to-next-tier")).to_contain_text("¥580 more")
    expect(page.get_by_test_id("expiring")).to_contain_text("150 points")
    screenshot(page, "portal-loyalty-phone-02-points")

    page.click(".portal-tabbar >> text=Rewards")
    page.wait_for_url(re.compile(r"/me/rewards/$"))
    expect(page.locator("[data-reward=mug]")).to_contain_text("Only 3 left")
    expect(page.locator("[data-reward=lounge]")).to_contain_text("For Gold members and above.")
    screenshot(page, "portal-loyalty-phone-03-rewards")

    page.click("[data-reward=tea-voucher] >> text=Redeem")
    page.wait_for_url(re.compile(r"/me/rewards/tea-voucher/redeem/$"))
    expect(page.get_by_test_id("balance-after")).to_have_text("730")
    screenshot(page, "portal-loyalty-phone-04-confirm")
    page.dblclick("main form button[type=submit]")  # an impatient double tap redeems once
    page.wait_for_url(re.compile(r"/me/rewards/redemptions/\d+/$"))
    redemption = Redemption.objects.get()
    assert LoyaltyAccount.objects.get(customer=loyal_member).balance == 730
    expect(page.get_by_test_id("voucher-code")).to_have_text(redemption.voucher_code)
    assert page.locator("svg.member-qr").count() == 1
    screenshot(page, "portal-loyalty-phone-05-redemption")

    page.click("text=All my coupons")
    page.wait_for_url(re.compile(r"/me/coupons/$"))
    expect(page.get_by_test_id("count-active")).to_have_text("2")
    card = page.locator(f"[data-code='{redemption.voucher_code}']")
    expect(card).to_have_text(redemption.voucher_code)
    coupon = page.locator("[data-testid=coupon-active]", has=card)
    coupon.locator("summary").click()
    expect(coupon.locator("svg.member-qr")).to_be_visible()
    screenshot(page, "portal-loyalty-phone-06-coupons")

    page.goto(page.base_url + "/me/rewards/#redemptions")
    expect(page.locator("#redemptions")).to_contain_text("Tea voucher")
    page.locator("#redemptions").screenshot(
        path=str(SCREENSHOTS / "portal-loyalty-phone-06b-redemptions.png")
    )

    page.goto(page.base_url + "/me/referrals/")
    expect(page.get_by_test_id("share-url")).to_have_value(re.compile(r"^http://.+/r/\w+/$"))
    screenshot(page, "portal-loyalty-phone-07-referrals")

    # Nothing is wider than the phone's screen.
    for path in ("/me/", "/me/points/", "/me/rewards/", "/me/coupons/", "/me/referrals/"):
        page.goto(page.base_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide"


def test_member_loyalty_pages_on_a_desktop(loyal_member, page):
    login(page, "wei.lin@example.org")
    page.wait_for_url(re.compile(r"/me/$"))
    screenshot(page, "portal-loyalty-desktop-01-overview")
    page.click(".portal-links >> text=Points")
    page.wait_for_url(re.compile(r"/me/points/$"))
    screenshot(page, "portal-loyalty-desktop-02-points")
    page.click(".portal-links >> text=Rewards")
    screenshot(page, "portal-loyalty-desktop-03-rewards")
    page.click(".portal-links >> text=More")
    page.click(".portal-links >> text=Invite friends")
    page.wait_for_url(re.compile(r"/me/referrals/$"))
    screenshot(page, "portal-loyalty-desktop-04-referrals")
    page.click(".portal-links >> text=Coupons")
    page.wait_for_url(re.compile(r"/me/coupons/$"))
    screenshot(page, "portal-loyalty-desktop-05-coupons")
    # The narrowest desktop (992 px): the top navigation still fits on one line.
    page.set_viewport_size({"width": 992, "height": 800})
    page.goto(page.base_url + "/me/points/")
    assert page.locator(".portal-top__inner").bounding_box()["height"] < 70
    assert page.evaluate("document.documentElement.scrollWidth") <= 992
    screenshot(page, "portal-loyalty-desktop-06-992px")


def test_friend_opens_the_invitation_signs_up_and_is_referred(loyal_member, phone_page, settings):
    settings.ACCOUNT_FORMS = {"signup": "apps.accounts.forms.SignupForm"}
    page = phone_page
    code = referral_code_for(customer=loyal_member).code
    mail.outbox.clear()

    page.goto(f"{page.base_url}/r/{code}/")
    expect(page.locator("h1")).to_have_text("Wei invited you")
    screenshot(page, "portal-loyalty-phone-08-invitation")
    page.locator("main").get_by_role("link", name="Join", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/signup/"))
    page.fill("input[name=first_name]", "Mei")
    page.fill("input[name=last_name]", "Chen")
    page.fill("input[name=email]", "mei.chen@example.org")
    page.fill("input[name=password1]", "friend-Secret-1357")
    page.fill("input[name=password2]", "friend-Secret-1357")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.goto(page.base_url + link[link.index("/accounts/") :])
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/me/join/"))
    expect(page.locator("input[name=referral_code]")).to_have_value(code)
    screenshot(page, "portal-loyalty-phone-09-join-with-code")

    page.click("text=Create my membership")
    page.wait_for_url(re.compile(r"/me/$"))
    referral = Referral.objects.get()
    assert referral.referrer == loyal_member and referral.referee.first_name == "Mei"
    expect(page.get_by_text("you both get bonus points")).to_be_visible()
    screenshot(page, "portal-loyalty-phone-10-joined")
