"""Ledger rows in plain words (``apps.loyalty.describe``): each kind from the structure its
service recorded, in the reader's language, in a fixed number of queries; rows from before
``detail`` and kinds added later still read.

English is asserted word for word. For zh-Hans the catalogue is translated after merging, so
those tests assert what the structure puts there whatever the wording: names, numbers, the
amount with its symbol and the Chinese date formats of ``config/formats``."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from apps.core.models import OutboxEvent
from apps.loyalty import ledger
from apps.loyalty.describe import (
    LEDGER_RELATED,
    MEMBER,
    STAFF,
    LedgerLine,
    describe,
    legacy_detail,
)
from apps.loyalty.enums import BonusKind, TxGroup, TxKind
from apps.loyalty.locks import lock_account
from apps.loyalty.models import PointsTransaction, Redemption
from apps.loyalty.services import (
    bonus_award,
    points_mature_due,
    redemption_cancel_by_member,
    referral_code_for,
    referral_register,
    reward_redeem,
    tier_evaluate,
)
from apps.loyalty.services.reminders import points_expiring_remind
from apps.loyalty.verification import LedgerCheck
from tests.conftest import enrolled_member
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty import ledger_world
from tests.loyalty.factories import RewardFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(superuser):
    ledger_world.programme_and_tiers()
    _, customer = enrolled_member("lin@test.local", first_name="Lin")
    ledger_world.every_kind(customer, actor=superuser)
    return customer


def lines(customer, *, audience=MEMBER) -> list[LedgerLine]:
    rows = (
        PointsTransaction.objects.filter(account__customer=customer)
        .select_related(*LEDGER_RELATED)
        .order_by("id")
    )
    return describe(rows, audience=audience)


def one(found: list[LedgerLine], kind: str, *, nth: int = 0) -> LedgerLine:
    return [line for line in found if line.tx.kind == kind][nth]


def by_headline(found: list[LedgerLine], start: str) -> LedgerLine:
    matching = [line for line in found if line.headline.startswith(start)]
    assert matching, f"no line starts with {start!r}: {[x.headline for x in found]}"
    return matching[0]


# --- every kind, in English -------------------------------------------------------------------


def test_the_world_has_a_row_of_every_kind(world):
    # Compensation and merge transfers have tests of their own.
    assert ledger_world.kinds_of(world) == set(TxKind.values) - {TxKind.COMPENSATE, TxKind.TRANSFER}


def test_purchase_names_the_store_the_order_and_the_tier_multiplier(world):
    with translation.override("en"):
        line = by_headline(lines(world), "Purchase at")
    assert line.tx.kind == TxKind.EARN and line.tx.order.external_id == "000000"
    assert line.headline == "Purchase at Shanghai Nanjing Road"
    assert line.details == ("order 000000",)
    assert line.points == 158 and line.points_note == "Gold ×1.2"  # ¥132 × 1.2
    assert line.text == "Purchase at Shanghai Nanjing Road · order 000000 · 158 points (Gold ×1.2)"
    assert line.target.kind == "order" and line.target.number == "000000"
    assert line.target.store == "sh-njr" and line.group == TxGroup.EARNED


def test_pending_purchase_says_when_the_points_can_be_spent(world):
    with translation.override("en"):
        line = one(lines(world), TxKind.PENDING, nth=1)  # the order that stays pending
    assert line.tx.order.external_id == "N00000"
    available = timezone.localtime(line.tx.lot.available_at).date()
    assert line.details == ("order N00000", f"available from {available:%-d %b %Y}")
    assert line.pending and line.points == 24 and line.points_note == "Gold ×1.2"  # ¥20 × 1.2


def test_matured_points_name_their_purchase(world):
    with translation.override("en"):
        line = one(lines(world), TxKind.MATURE)
    assert line.headline == "Now available: purchase at Shanghai Nanjing Road"
    assert line.details == ("order P00000",)
    assert line.points == line.tx.points > 0 and line.points_note == ""


def test_refund_names_the_amount_and_the_order(world):
    with translation.override("en"):
        line = one(lines(world), TxKind.REFUND)
    assert line.headline == "Refund of ¥80 on order 000000"
    assert line.points == -96  # 158 × 80 / 132, rounded up
    assert line.text == "Refund of ¥80 on order 000000 · \u221296 points"
    assert line.target.kind == "order" and line.group == TxGroup.ADJUSTED


def test_redemption_and_its_cancellations(world):
    with translation.override("en"):
        found = lines(world)
        staff = lines(world, audience=STAFF)
    redeemed = one(found, TxKind.REDEEM)
    assert redeemed.headline == "Redeemed: Tea set 0" and redeemed.points == -10
    assert redeemed.target.kind == "redemption"
    assert redeemed.target.pk == redeemed.tx.redemption_id
    by_member = one(found, TxKind.REVERSE)
    assert by_member.headline == "Redemption cancelled: Tea set 0"
    assert by_member.details == ("at your request",)
    assert one(staff, TxKind.REVERSE).details == ("by the member",)
    by_staff = one(found, TxKind.REVERSE, nth=1)
    assert by_staff.details == ("Out of stock at the store",)  # the note staff wrote
    assert {by_member.group, by_staff.group, redeemed.group} == {TxGroup.REDEEMED}


def test_expiry_names_the_month_the_points_were_earned(world):
    with translation.override("en"):
        line = one(lines(world), TxKind.EXPIRE)
    assert line.headline == "Expired: points earned in May 2025"
    assert line.points == -40 and line.group == TxGroup.EXPIRED


def test_bonuses_say_which_bonus(world):
    with translation.override("en"):
        found = lines(world)
    headlines = [line.headline for line in found if line.tx.kind == TxKind.EARN]
    assert "Welcome bonus" in headlines  # the enrolment's sign-up bonus
    assert "Birthday bonus" in headlines  # a row from before ``detail``: its key says so
    badge = by_headline(found, "Badge:")
    assert badge.headline == "Badge: First purchase" and badge.points == 20
    assert badge.target.kind == "badge" and badge.target.slug == "first-purchase"
    event = by_headline(found, "Bonus: ")
    assert event.headline == "Bonus: Review posted" and event.details == ("Review reward",)


def test_adjustment_shows_what_staff_wrote(world):
    with translation.override("en"):
        line = one(lines(world), TxKind.ADJUST)
    assert line.headline == "Adjustment by staff: Broken cup 0"
    assert line.points == 25 and line.group == TxGroup.ADJUSTED


def test_referral_bonuses_for_both_sides(superuser):
    ledger_world.programme_and_tiers()
    _, referrer = enrolled_member("ref@test.local")
    _, friend = enrolled_member("friend@test.local", first_name="Friend")
    from apps.loyalty.models import Programme

    Programme.objects.update(referrer_bonus=300, referee_bonus=200)
    referral_register(referee=friend, code=referral_code_for(customer=referrer).code)
    from apps.loyalty.services import order_ingest

    order_ingest(
        store=StoreFactory(),
        external_id="F1",
        customer=friend,
        placed_at=timezone.now() - dt.timedelta(days=30),
        total=Decimal(10),
    )
    with translation.override("en"):
        assert "Referral bonus" in [x.headline for x in lines(referrer)]
        assert "Bonus for joining through a friend" in [x.headline for x in lines(friend)]


def test_tier_welcome_gift_names_the_tier(db):
    ledger_world.programme_and_tiers()
    TierFactory(slug="vip", name="VIP", rank=5, threshold=Decimal(0), entry_gift_points=500)
    _, customer = enrolled_member("vip@test.local")
    tier_evaluate(account=lock_account(customer_id=customer.pk))
    with translation.override("en"):
        assert "Welcome gift for VIP" in [x.headline for x in lines(customer)]


def test_compensation_names_its_ticket_and_an_unknown_kind_reads_as_its_label(customer):
    ledger_world.programme_and_tiers()
    account = lock_account(customer_id=customer.pk)
    ledger.append(account=account, kind=TxKind.COMPENSATE, key="c1", points=0,
                  source_ref="C-2026-000123")  # fmt: skip
    # A kind a later change adds, before it has a describer: its code, never a crash.
    ledger.append(account=account, kind="gift", key="g1", points=0)
    with translation.override("en"):
        found = lines(customer)
    assert one(found, TxKind.COMPENSATE).text == "Compensation · C-2026-000123 · 0 points"
    unknown = one(found, "gift")
    assert unknown.headline == "gift" and unknown.text == "gift · 0 points"
    assert unknown.group == "" and unknown.target is None


def test_a_merge_transfer_names_the_other_membership(customer):
    ledger_world.programme_and_tiers()
    bonus_award(customer=customer, points=100, key="gift", reason="gift")
    account = lock_account(customer_id=customer.pk)
    ledger.append(account=account, kind=TxKind.TRANSFER, key="m-out", points=-100,
                  source_ref="merge:1234567897")  # fmt: skip
    ledger.append(account=account, kind=TxKind.TRANSFER, key="m-in", points=40,
                  source_ref="merge:7654321098")  # fmt: skip
    with translation.override("en"):
        found = [x for x in lines(customer) if x.tx.kind == TxKind.TRANSFER]
    assert [x.text for x in found] == [
        "Moved to membership 1234567897 (memberships merged) · \u2212100 points",
        "Moved from membership 7654321098 (memberships merged) · 40 points",
    ]
    assert {x.group for x in found} == {TxGroup.ADJUSTED}


def test_settling_points_owed_reads_as_such(customer, superuser):
    ledger_world.programme_and_tiers()
    account = lock_account(customer_id=customer.pk)
    account.debt = 30
    account.save(update_fields=["debt"])
    bonus_award(customer=customer, points=100, key="gift", reason="gift")
    with translation.override("en"):
        line = one(lines(customer), TxKind.REFUND)
    assert line.headline == "Points owed from a refund, settled" and line.points == -30


def test_member_cancellation_note_is_not_repeated_from_the_stored_reason(customer):
    ledger_world.programme_and_tiers()
    bonus_award(customer=customer, points=100, key="gift", reason="gift")
    redemption = reward_redeem(customer=customer, reward=RewardFactory(cost_points=10), key="r")
    with translation.override("zh-hans"):  # the stored reason is written in this language
        redemption_cancel_by_member(customer=customer, redemption=redemption)
    with translation.override("en"):
        line = one(lines(customer), TxKind.REVERSE)
    assert line.details == ("at your request",)
    assert Redemption.objects.get(pk=redemption.pk).status == "cancelled"


# --- rows from before ``detail`` ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("bonus:signup:7", {"bonus": BonusKind.WELCOME}),
        ("bonus:birthday:7:2025", {"bonus": BonusKind.BIRTHDAY}),
        ("bonus:referral:3:referee", {"bonus": BonusKind.REFERRED, "referral": 3}),
        ("bonus:referral:3:referrer", {"bonus": BonusKind.REFERRAL, "referral": 3}),
        ("bonus:badge:7:12", {"bonus": BonusKind.BADGE, "badge": 12}),
        ("bonus:tier-gift:4:2", {"bonus": BonusKind.TIER_GIFT, "tier": 2}),
        ("event:review_posted:7:abc", {"bonus": BonusKind.EVENT, "event": "review_posted"}),
        ("order:5:earn", {}),
        ("bonus:badge:7:x", {"bonus": BonusKind.BADGE, "badge": None}),
        ("", {}),
    ],
)
def test_legacy_detail_from_the_services_key_conventions(key, expected):
    assert legacy_detail(PointsTransaction(idempotency_key=key)) == expected


def test_a_legacy_badge_row_names_its_badge(customer):
    ledger_world.programme_and_tiers()
    from apps.loyalty.models import Badge

    badge = Badge.objects.get(slug="first-purchase")
    bonus_award(customer=customer, points=20, key=f"bonus:badge:{customer.pk}:{badge.pk}",
                reason="Badge: First purchase")  # fmt: skip
    with translation.override("en"):
        line = one(lines(customer), TxKind.EARN)
    assert line.headline == "Badge: First purchase" and line.target.slug == "first-purchase"


def test_rows_without_structure_fall_back_to_what_was_written(customer):
    ledger_world.programme_and_tiers()
    bonus_award(customer=customer, points=5, key="import:42", reason="Migrated balance")
    with translation.override("en"):
        line = one(lines(customer), TxKind.EARN)
    assert line.text == "Bonus points · Migrated balance · 5 points"


# --- zh-Hans: the structure is there, whatever the wording --------------------------------------


def test_zh_hans_lines_carry_names_numbers_amounts_and_chinese_dates(world):
    with translation.override("zh-hans"):
        found = lines(world)
        purchase = next(x for x in found if x.tx.kind == TxKind.EARN and x.tx.order_id)
        refund = one(found, TxKind.REFUND)
        redeemed = one(found, TxKind.REDEEM)
        expired = one(found, TxKind.EXPIRE)
        adjusted = one(found, TxKind.ADJUST)
        pending = one(found, TxKind.PENDING, nth=1)
    assert "Shanghai Nanjing Road" in purchase.headline
    assert "000000" in purchase.text and "158" in purchase.text and "Gold" in purchase.text
    assert "¥80" in refund.headline and "000000" in refund.headline and "\u221296" in refund.text
    assert "Tea set 0" in redeemed.headline
    assert "2025年5月" in expired.headline  # YEAR_MONTH_FORMAT of config/formats/zh_Hans
    assert "Broken cup 0" in adjusted.headline
    available = timezone.localtime(pending.tx.lot.available_at).date()
    assert f"{available.year}年{available.month}月{available.day}日" in pending.text
    assert "May" not in expired.headline


def test_the_language_is_the_readers_at_render_time_not_the_writers(world):
    with translation.override("zh-hans"):
        zh = one(lines(world), TxKind.EXPIRE).headline
    with translation.override("en"):
        en = one(lines(world), TxKind.EXPIRE).headline
    assert en == "Expired: points earned in May 2025" and "2025年5月" in zh


# --- cost and safety ---------------------------------------------------------------------------


def test_describing_a_page_costs_at_most_one_query_for_tiers_rules_and_badges_each(
    world, superuser
):
    ledger_world.every_kind(world, actor=superuser, start=1, n=3)
    rows = list(
        PointsTransaction.objects.filter(account__customer=world).select_related(*LEDGER_RELATED)
    )
    assert len(rows) > 40
    with CaptureQueriesContext(connection) as ctx:
        found = describe(rows)
        [x.text for x in found]
    assert len(ctx.captured_queries) == 3  # tiers, rules, badges


def test_detail_is_outside_the_hash_chain_and_the_ledger_still_verifies(world):
    rows = PointsTransaction.objects.filter(account__customer=world)
    assert rows.exclude(detail={}).exists()
    assert list(LedgerCheck().faults()) == []


def test_bulk_earning_records_the_same_detail(db):
    from apps.loyalty.services.earning_bulk import orders_earn_bulk
    from tests.customers.factories import OrderFactory

    ledger_world.programme_and_tiers()
    gold = TierFactory(slug="gold")
    customer = CustomerFactory()
    lock_account(customer_id=customer.pk)
    from apps.loyalty.models import LoyaltyAccount

    LoyaltyAccount.objects.filter(customer=customer).update(tier=gold)
    order = OrderFactory(customer=customer, total=Decimal("100.00"))
    assert orders_earn_bulk(order_ids=[order.pk], publish_earned=False) == 1
    tx = PointsTransaction.objects.get(order=order)
    assert tx.detail == {"tier": gold.pk, "multiplier": "1.2"}
    points_mature_due(as_of=timezone.now() + dt.timedelta(days=30))
    with translation.override("en"):
        found = lines(customer)
    assert one(found, tx.kind).points_note == "Gold ×1.2"
    assert list(LedgerCheck().faults()) == []


# --- the expiring-points reminder speaks like the history ----------------------------------------


def test_expiring_points_reminder_names_the_month_they_were_earned(customer, superuser):
    ledger_world.programme_and_tiers()
    earned = timezone.make_aware(dt.datetime(2026, 1, 15, 10, 0))
    bonus_award(customer=customer, points=1200, key="jan", reason="gift", at=earned)
    bonus_award(customer=customer, points=1, key="jan-2", reason="gift", at=earned)
    lot_expires = timezone.localtime(
        PointsTransaction.objects.get(idempotency_key="jan").lot.expires_at
    )
    assert points_expiring_remind(as_of=lot_expires - dt.timedelta(days=3)) == 1
    # One item per expiry day and month earned, as the history will name them once expired.
    (event,) = OutboxEvent.objects.filter(name="points.expiring")
    assert event.payload == {
        "customer_id": customer.pk,
        "items": [
            {"points": 1201, "expires_on": lot_expires.date().isoformat(), "earned_in": "2026-01"}
        ],
    }


def test_expiring_text_for_one_point_and_without_a_month():
    from apps.loyalty.describe import expiring_text

    with translation.override("en"):
        one_point = expiring_text(
            points=1, expires_on=dt.date(2026, 5, 10), earned_in=dt.date(2025, 5, 1)
        )
        assert one_point == "1 point earned in May 2025 expires on 10 May 2026"
        assert expiring_text(points=30, expires_on=dt.date(2026, 5, 10)) == (
            "30 points expire on 10 May 2026"
        )
    with translation.override("zh-hans"):
        text = expiring_text(
            points=30, expires_on=dt.date(2026, 5, 10), earned_in=dt.date(2025, 5, 1)
        )
    assert "2025年5月" in text and "2026年5月10日" in text and "30" in text
