import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.core.models import OutboxEvent
from apps.customers.models import ConsentRecord, Customer, PortalMessage
from apps.loyalty import tasks
from apps.loyalty.enums import TxKind
from apps.loyalty.models import Badge, LoyaltyAccount, PointsLot, PointsTransaction, Programme
from apps.loyalty.services import bonus_award, points_adjust
from apps.loyalty.services.reminders import points_expiring_remind
from apps.loyalty.verification import ledger_faults
from config.celery import app as celery_app
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _grant(customer, manager, points):
    """An available lot expiring 12 months from now (ProgrammeFactory: rolling 12 months)."""
    points_adjust(customer=customer, points=points, reason="test", actor=manager)
    return PointsLot.objects.filter(account__customer=customer).latest("id")


def _near_expiry(lot, days=10):
    return (lot.expires_at - dt.timedelta(days=days)).isoformat()


# --- schedule --------------------------------------------------------------------------------


def test_migration_schedules_every_job_at_its_local_time_with_a_registered_task():
    rows = {
        t.task: (t.crontab.hour, t.crontab.minute, str(t.crontab.timezone))
        for t in PeriodicTask.objects.filter(name__startswith="loyalty:").select_related("crontab")
    }
    assert rows == {
        "loyalty.points_mature": ("2", "10", "Asia/Shanghai"),
        "loyalty.points_expire": ("2", "20", "Asia/Shanghai"),
        "loyalty.tiers_review": ("2", "40", "Asia/Shanghai"),
        "loyalty.birthday_bonuses": ("3", "0", "Asia/Shanghai"),
        "loyalty.badge_anniversaries": ("3", "5", "Asia/Shanghai"),
        "loyalty.points_expiring_remind": ("9", "0", "Asia/Shanghai"),
        "loyalty.ledger_verify": ("4", "30", "Asia/Shanghai"),
    }
    assert set(rows) <= set(celery_app.tasks)


def test_schedule_migration_is_rerunnable_without_duplicates():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("apps.loyalty.migrations.0003_beat_schedule")
    PeriodicTask.objects.filter(task="loyalty.points_expire").update(enabled=False)
    migration.schedule(apps, None)
    assert PeriodicTask.objects.filter(name__startswith="loyalty:").count() == 7
    assert PeriodicTask.objects.get(task="loyalty.points_expire").enabled


# --- nightly ledger jobs ---------------------------------------------------------------------


def test_mature_task_matures_once_however_often_it_runs(programme, customer, buy):
    buy(customer, "250")
    later = (timezone.now() + dt.timedelta(days=15)).isoformat()
    assert tasks.points_mature.delay(as_of=later).get() == 1
    assert tasks.points_mature.delay(as_of=later).get() == 0
    account = LoyaltyAccount.objects.get(customer=customer)
    assert (account.balance, account.pending) == (250, 0)
    assert PointsTransaction.objects.filter(kind=TxKind.MATURE).count() == 1


def test_expire_task_takes_an_iso_date_and_expires_once(programme, customer, manager):
    lot = _grant(customer, manager, 300)
    day_after = (timezone.localdate(lot.expires_at) + dt.timedelta(days=1)).isoformat()
    assert tasks.points_expire(as_of=day_after) == 1
    assert tasks.points_expire(as_of=day_after) == 0
    assert LoyaltyAccount.objects.get(customer=customer).balance == 0
    assert PointsTransaction.objects.filter(kind=TxKind.EXPIRE).count() == 1
    assert list(ledger_faults()) == []


def test_a_job_skips_while_another_run_holds_its_lock_and_changes_nothing(
    programme, customer, manager
):
    lot = _grant(customer, manager, 300)
    after = (lot.expires_at + dt.timedelta(days=1)).isoformat()
    cache.add("lock:loyalty:expire", 1, 60)
    assert tasks.points_expire(as_of=after) is None
    assert LoyaltyAccount.objects.get(customer=customer).balance == 300
    cache.delete("lock:loyalty:expire")
    assert tasks.points_expire(as_of=after) == 1


def test_the_lock_is_released_when_the_job_fails(programme, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tasks.services, "points_expire_due", boom)
    with pytest.raises(RuntimeError):
        tasks.points_expire()
    assert cache.add("lock:loyalty:expire", 1, 60)  # free again


def test_bad_date_is_refused(programme):
    with pytest.raises(ValueError, match="not an ISO date"):
        tasks.tiers_review(as_of="yesterday")


def test_birthday_task_awards_once_per_year(programme):
    today = timezone.localdate()
    customer = CustomerFactory(birth_date=today.replace(year=1990))
    assert tasks.birthday_bonuses(today=today.isoformat()) == 1
    assert tasks.birthday_bonuses(today=today.isoformat()) == 0
    assert LoyaltyAccount.objects.get(customer=customer).balance == Programme.get().birthday_bonus


def test_badge_anniversary_task_awards_once(programme):
    Badge.objects.create(slug="one-year", name="One year", rule="anniversary", threshold=1)
    customer = CustomerFactory(joined_at=timezone.now() - dt.timedelta(days=400))
    assert tasks.badge_anniversaries() == 1
    assert tasks.badge_anniversaries() == 0
    assert customer.badges.count() == 1


def test_tier_review_task_reviews_due_accounts(programme, tiers, customer, buy):
    buy(customer, "1200", days_ago=400)  # qualified for silver long ago, nothing since
    account = LoyaltyAccount.objects.get(customer=customer)
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        tier=tiers[1], tier_review_at=timezone.localdate() - dt.timedelta(days=40)
    )
    assert tasks.tiers_review() == 1
    assert LoyaltyAccount.objects.get(pk=account.pk).tier == tiers[0]
    assert tasks.tiers_review() == 0


# --- reminders -------------------------------------------------------------------------------
# The engine marks each lot reminded once and publishes ``points.expiring`` per member; the
# message is the built-in journey's (tests/campaigns/test_points_expiring_journey.py).


def _published() -> list[dict]:
    """The ``points.expiring`` events written to the outbox, by customer."""
    payloads = OutboxEvent.objects.filter(name="points.expiring").values_list("payload", flat=True)
    return sorted(payloads, key=lambda payload: payload["customer_id"])


def _item(lot, points=None) -> dict:
    return {
        "points": lot.remaining if points is None else points,
        "expires_on": timezone.localdate(lot.expires_at).isoformat(),
        "earned_in": f"{timezone.localdate(lot.earned_at):%Y-%m}",
    }


def test_reminder_marks_each_lot_once_and_publishes_one_event(programme, manager):
    customer = CustomerFactory()
    lot = _grant(customer, manager, 420)
    assert tasks.points_expiring_remind(as_of=_near_expiry(lot)) == 1
    assert tasks.points_expiring_remind(as_of=_near_expiry(lot, days=5)) == 0
    assert PointsLot.objects.get(pk=lot.pk).reminded_at == lot.expires_at - dt.timedelta(days=10)
    assert _published() == [{"customer_id": customer.pk, "items": [_item(lot)]}]
    # The engine itself sends nothing.
    assert mail.outbox == [] and not PortalMessage.objects.exists()


def test_lots_outside_the_window_are_not_reminded(programme, customer, manager):
    lot = _grant(customer, manager, 100)
    assert points_expiring_remind(as_of=lot.expires_at - dt.timedelta(days=31)) == 0
    assert PointsLot.objects.get(pk=lot.pk).reminded_at is None
    assert _published() == []


def test_one_event_per_member_lists_points_per_expiry_day_and_month_earned(
    programme, customer, manager
):
    bonus_award(
        customer=customer,
        points=50,
        key="earlier",
        reason="test",
        at=timezone.now() - dt.timedelta(days=20),
    )
    earlier = PointsLot.objects.get(account__customer=customer)
    later = _grant(customer, manager, 100)
    _grant(customer, manager, 30)  # the same day and month as ``later``: one item
    as_of = earlier.expires_at - dt.timedelta(days=3)
    assert points_expiring_remind(as_of=as_of) == 1
    assert _published() == [
        {"customer_id": customer.pk, "items": [_item(earlier), _item(later, points=130)]}
    ]
    assert not PointsLot.objects.filter(account__customer=customer, reminded_at__isnull=True)


def test_consent_and_anonymity_are_left_to_the_journey(programme, manager):
    withdrawn = CustomerFactory()
    ConsentRecord.objects.create(
        customer=withdrawn, channel="email", purpose="service", granted=False, source="test"
    )
    lots = [_grant(c, manager, 100) for c in (withdrawn, CustomerFactory())]
    Customer.objects.filter(pk=lots[1].account.customer_id).update(anonymized_at=timezone.now())
    assert points_expiring_remind(as_of=lots[0].expires_at - dt.timedelta(days=3)) == 2
    # Every lot is marked and every member's event published: the journey decides who hears.
    assert not PointsLot.objects.filter(reminded_at__isnull=True).exists()
    assert [p["customer_id"] for p in _published()] == sorted(
        lot.account.customer_id for lot in lots
    )


def test_nothing_is_reminded_when_points_never_expire(programme, customer, manager):
    lot = _grant(customer, manager, 100)
    Programme.objects.update(expiry_policy="never")
    assert points_expiring_remind(as_of=lot.expires_at - dt.timedelta(days=3)) == 0
    assert PointsLot.objects.get(pk=lot.pk).reminded_at is None and _published() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reminder_runs_remind_each_lot_once(programme):
    manager = UserFactory(is_staff=True, is_superuser=True)
    customers = [CustomerFactory() for _ in range(30)]
    lots = [_grant(c, manager, 100) for c in customers]
    as_of = lots[0].expires_at - dt.timedelta(days=3)
    results, barrier = [], threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            results.append(points_expiring_remind(as_of=as_of, chunk=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 30  # each member reminded by exactly one run
    assert PointsLot.objects.filter(reminded_at=as_of).count() == 30
    assert [p["customer_id"] for p in _published()] == sorted(c.pk for c in customers)
