"""The loyalty part of ``seed_demo``: two years of programme history replayed through the real
services, so the liability report reads like a running programme's (redemptions and expiries
month by month, plausible breakage), members' inboxes hold real messages in both languages,
coupons are used through the coupon service, the ledger stays clean and the same seed replays
the same history."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.core.models import OutboxEvent
from apps.customers import demo
from apps.customers.models import Customer, PortalMessage
from apps.loyalty.enums import RedemptionStatus, TxKind
from apps.loyalty.models import CouponUse, PointsLot, PointsTransaction, Redemption
from apps.loyalty.selectors import coupon_wallet, liability_report
from apps.loyalty.staff_selectors import coupon_batch_list, liability_monthly
from apps.loyalty.verification import ledger_faults

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings):
    settings.DEBUG = True
    settings.SETTINGS_MODULE = "config.settings.dev"
    call_command("seed_demo", customers=80, seed=42, stdout=io.StringIO())


def test_demo_members_have_used_coupons_on_their_orders(seeded):
    uses = list(CouponUse.objects.select_related("coupon", "order", "customer"))
    owned = [u for u in uses if u.coupon.owner_id is not None]
    from_batch = [u for u in uses if u.coupon.batch_id is not None]
    assert owned and from_batch and len(owned) + len(from_batch) == len(uses)
    anchor = demo._anchor()
    for use in uses:
        order = use.order
        assert order is not None and order.customer_id == use.customer_id
        assert (order.coupon_code, order.discount) == (use.coupon.code, use.discount)
        assert order.placed_at < anchor  # like every generated order
        assert use.coupon.uses == 1 and order.total >= 0
    assert all(u.customer_id == u.coupon.owner_id for u in owned)
    [batch] = coupon_batch_list()
    assert batch.used == len(from_batch) == 30
    assert list(ledger_faults()) == []


def test_the_first_demo_member_sees_a_used_voucher_in_the_wallet(seeded):
    member = Customer.objects.get(user__email="member1@example.com")
    wallet = coupon_wallet(customer=member)
    assert len(wallet.used) == 1
    assert CouponUse.objects.filter(coupon=wallet.used[0], customer=member).count() == 1


# --- the programme's history ---------------------------------------------------------------------


def _since(months: int) -> dt.datetime:
    """The first day of the month ``months - 1`` months back (the liability page's period)."""
    start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return start.replace(year=index // 12, month=index % 12 + 1)


def _months(kind: str, since: dt.datetime) -> int:
    tz = timezone.get_current_timezone()
    return (
        PointsTransaction.objects.filter(kind=kind, created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .distinct()
        .count()
    )


def test_the_liability_report_reads_like_a_running_programme(seeded):
    for months in (12, 24):
        report = liability_report(since=_since(months))
        assert Decimal("0.10") <= report.breakage_rate <= Decimal("0.25"), months
    year = liability_report(since=_since(12))
    # Redemptions and expiries month by month, not all on the day of seeding.
    assert _months(TxKind.REDEEM, _since(12)) >= 10
    assert _months(TxKind.EXPIRE, _since(12)) >= 10
    assert _months(TxKind.REFUND, _since(24)) >= 4
    series = liability_monthly(since=_since(12))
    assert sum(1 for row in series if row.redeemed > 0) >= 10
    assert max(row.expired for row in series) < year.expired / 3  # no single-month spike
    # Gifts were handed over days after they were asked for; some were cancelled.
    fulfilled = Redemption.objects.filter(
        status=RedemptionStatus.FULFILLED, reward__kind__in=["physical", "experience"]
    )
    assert fulfilled.exists()
    assert all(r.fulfilled_at >= r.created_at + dt.timedelta(days=1) for r in fulfilled)
    assert Redemption.objects.filter(status=RedemptionStatus.CANCELLED).exists()
    # Every points movement lies in the past and the ledger verifies.
    assert not Redemption.objects.filter(created_at__gt=timezone.now()).exists()
    assert list(ledger_faults()) == []


def test_members_inboxes_hold_real_messages_in_both_languages(seeded):
    messages = PortalMessage.objects.all()
    kinds = set(messages.values_list("kind", flat=True))
    assert kinds == {"system", "loyalty", "campaign", "service"}
    # The replayed reminders only marked lots: nobody is messaged about the past.
    assert not messages.filter(key__startswith="points-expiring:").exists()
    assert PointsLot.objects.filter(reminded_at__isnull=False).exists()
    assert not OutboxEvent.objects.filter(name="points.expiring").exists()
    for message in messages:
        assert message.subject_en and message.body_en
        assert message.subject_zh_hans and message.body_zh_hans
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message.subject_zh_hans)
        assert message.sent_at < timezone.now()
    months = {timezone.localdate(m.sent_at).replace(day=1) for m in messages}
    assert len(months) >= 12
    assert messages.filter(read_at__isnull=True).exists()
    assert messages.filter(read_at__isnull=False).exists()
    assert not messages.filter(read_at__lt=F("sent_at")).exists()
    # Every member was welcomed; the first demo member has read and unread messages.
    assert messages.filter(key__startswith="demo:welcome:").count() == Customer.objects.count()
    member = Customer.objects.get(user__email="member1@example.com")
    mine = member.portal_messages.all()
    assert mine.filter(read_at__isnull=True).exists() and mine.filter(read_at__isnull=False)
    assert mine.filter(kind="loyalty").exists()


def _history_fingerprint() -> list[tuple]:
    return list(
        PointsTransaction.objects.order_by("account__customer__member_number", "id").values_list(
            "account__customer__member_number", "kind", "points", "pending_points", "created_at"
        )
    ) + list(
        # Survey invitations are sampled by database ids, which differ between two seeds in
        # one database (sequences do not roll back): the loyalty history is what must replay.
        PortalMessage.objects.exclude(key__startswith="survey-invitation:")
        .order_by("customer__member_number", "sent_at", "key")
        .values_list("customer__member_number", "kind", "subject_en", "sent_at", "read_at")
    )


class _Rollback(Exception):
    pass


def test_the_same_seed_replays_the_same_history(settings):
    settings.DEBUG = True
    settings.SETTINGS_MODULE = "config.settings.dev"
    prints = []
    for _ in range(2):
        with pytest.raises(_Rollback), transaction.atomic():
            call_command("seed_demo", customers=30, seed=5, stdout=io.StringIO())
            prints.append(_history_fingerprint())
            raise _Rollback
    # Rows dated "now" (badges, the final maturing run, the last evening's coupon orders)
    # differ by the clock; everything the replay wrote is the same.
    cut = demo._anchor()
    first, second = ([row for row in p if row[-1] is None or row[-1] < cut] for p in prints)
    assert first and first == second
