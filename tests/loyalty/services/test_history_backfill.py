"""Services that back-fill history (imports, the demo) take the time things happened: the rows,
lots, vouchers and inbox messages they write are dated then, and the rules are checked then."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.models import OutboxEvent
from apps.customers.inbox import portal_message_mark_read, portal_message_send
from apps.customers.models import PortalMessage
from apps.customers.services import order_record, refund_record
from apps.loyalty.enums import LotStatus, RedemptionStatus, TxKind
from apps.loyalty.exceptions import NotEligible
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction, Programme, TierHistory
from apps.loyalty.services.bonuses import bonus_award
from apps.loyalty.services.clawback import refund_clawback
from apps.loyalty.services.earning_bulk import orders_earn_bulk
from apps.loyalty.services.jobs import birthday_bonuses_award
from apps.loyalty.services.redemption import redemption_cancel, redemption_fulfil, reward_redeem
from apps.loyalty.services.reminders import points_expiring_remind
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def _grant(customer, points, *, days_ago):
    bonus_award(
        customer=customer,
        points=points,
        key=f"test:{customer.pk}:{days_ago}",
        reason="test",
        at=NOW - dt.timedelta(days=days_ago),
    )


def test_a_past_redemption_is_dated_then_with_its_voucher_valid_from_then(programme, customer):
    _grant(customer, 2000, days_ago=40)
    reward = RewardFactory(
        kind="cash_off",
        cost_points=1000,
        coupon_value=Decimal(10),
        coupon_valid_days=30,
        ends_at=NOW - dt.timedelta(days=10),  # the offer has ended since
    )
    with pytest.raises(NotEligible):
        reward_redeem(customer=customer, reward=reward, key="now")
    at = NOW - dt.timedelta(days=20)
    redemption = reward_redeem(customer=customer, reward=reward, key="then", at=at)
    assert redemption.created_at == at and redemption.fulfilled_at == at
    tx = PointsTransaction.objects.get(redemption=redemption)
    assert (tx.kind, tx.points, tx.created_at) == (TxKind.REDEEM, -1000, at)
    coupon = redemption.coupon
    assert (coupon.valid_from, coupon.valid_until) == (at, at + dt.timedelta(days=30))
    assert list(ledger_faults()) == []


def test_fulfilment_and_cancellation_are_dated_when_they_happened(programme, customer, manager):
    _grant(customer, 500, days_ago=30)
    gift = RewardFactory(kind="physical", cost_points=200, stock=5)
    asked = NOW - dt.timedelta(days=20)
    kept = reward_redeem(customer=customer, reward=gift, key="a", at=asked)
    dropped = reward_redeem(customer=customer, reward=gift, key="b", at=asked)
    assert kept.status == RedemptionStatus.REQUESTED
    handed = redemption_fulfil(
        redemption=kept, actor=manager, notes="Collected", at=asked + dt.timedelta(days=3)
    )
    assert handed.fulfilled_at == asked + dt.timedelta(days=3)
    cancelled = redemption_cancel(
        redemption=dropped, actor=manager, reason="Out of stock", at=asked + dt.timedelta(days=1)
    )
    assert cancelled.cancelled_at == asked + dt.timedelta(days=1)
    back = PointsTransaction.objects.get(redemption=dropped, kind=TxKind.REVERSE)
    assert (back.points, back.created_at) == (200, asked + dt.timedelta(days=1))
    assert LoyaltyAccount.objects.get(customer=customer).balance == 300


def test_a_past_refund_claws_back_on_its_own_date(programme, customer, store):
    order, _ = order_record(
        store=store,
        external_id="R-1",
        customer=customer,
        placed_at=NOW - dt.timedelta(days=60),
        total=Decimal(400),
    )
    orders_earn_bulk(order_ids=[order.pk], publish_earned=False)
    refund, _ = refund_record(
        order=order, refund_id="RF-1", amount=Decimal(100), at=NOW - dt.timedelta(days=50)
    )
    tx = refund_clawback(refund=refund, at=refund.at)
    assert (tx.kind, tx.points, tx.created_at) == (TxKind.REFUND, -100, refund.at)


def test_bulk_earning_as_of_a_past_day_is_pending_and_upgrades_that_day(
    programme, tiers, customer, store
):
    placed = NOW - dt.timedelta(days=100)
    order, _ = order_record(
        store=store, external_id="B-1", customer=customer, placed_at=placed, total=Decimal(1500)
    )
    as_of = placed + dt.timedelta(days=2)  # inside the 14-day return window then
    assert orders_earn_bulk(order_ids=[order.pk], publish_earned=False, as_of=as_of) == 1
    lot = PointsLot.objects.get(order=order)
    assert lot.status == LotStatus.PENDING
    tx = PointsTransaction.objects.get(order=order)
    assert (tx.kind, tx.created_at) == (TxKind.PENDING, placed)
    upgrade = TierHistory.objects.get(account__customer=customer, to_tier=tiers[1])
    assert upgrade.at == as_of
    assert list(ledger_faults()) == []


def test_birthday_bonuses_go_to_members_enrolled_by_then_dated_then(programme):
    day = NOW.date() - dt.timedelta(days=200)
    at = dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())
    member = CustomerFactory(
        birth_date=day.replace(year=1990), joined_at=NOW - dt.timedelta(days=300)
    )
    CustomerFactory(birth_date=day.replace(year=1991), joined_at=NOW - dt.timedelta(days=100))
    assert birthday_bonuses_award(today=day, at=at) == 1
    tx = PointsTransaction.objects.get(account__customer=member)
    assert (tx.points, tx.created_at) == (Programme.get().birthday_bonus, at)


def test_a_back_filled_reminder_marks_the_lot_then_and_tells_no_one(programme, customer):
    _grant(customer, 300, days_ago=350)
    lot = PointsLot.objects.get(account__customer=customer)
    as_of = lot.expires_at - dt.timedelta(days=20)
    assert points_expiring_remind(as_of=as_of, notify=False) == 1
    assert PointsLot.objects.get(pk=lot.pk).reminded_at == as_of
    # No event: the journey has nothing to send about the past.
    assert not OutboxEvent.objects.filter(name="points.expiring").exists()
    assert not PortalMessage.objects.filter(customer=customer).exists() and mail.outbox == []
    assert points_expiring_remind(as_of=as_of + dt.timedelta(days=1)) == 0  # reminded once


def test_an_inbox_message_in_both_languages_is_dated_and_read_when_given(customer):
    sent = NOW - dt.timedelta(days=3)
    message, created = portal_message_send(
        customer=customer,
        subject_en="Happy birthday",
        subject_zh_hans="生日快乐",
        body_en="Enjoy",
        body_zh_hans="祝您愉快",
        kind=PortalMessage.Kind.LOYALTY,
        key="bday",
        sent_at=sent,
    )
    assert created and message.sent_at == sent
    stored = PortalMessage.objects.get(pk=message.pk)
    assert (stored.subject_en, stored.subject_zh_hans) == ("Happy birthday", "生日快乐")
    portal_message_mark_read(message=stored, at=sent + dt.timedelta(hours=2))
    assert PortalMessage.objects.get(pk=message.pk).read_at == sent + dt.timedelta(hours=2)


def test_an_inbox_message_needs_a_subject_in_some_language_and_known_fields(customer):
    with pytest.raises(ValidationFailed):
        portal_message_send(customer=customer, body_en="No subject")
    with pytest.raises(ValidationFailed):
        portal_message_send(customer=customer, subject="Hi", title_en="Not a field")
    assert not PortalMessage.objects.exists()
