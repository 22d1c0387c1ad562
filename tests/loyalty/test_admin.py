import pytest
from django.contrib import admin
from django.urls import reverse

from apps.loyalty.models import (
    LotAllocation,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    TierHistory,
)
from apps.loyalty.services import points_adjust
from apps.loyalty.verification import ledger_faults
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import RewardFactory, TierFactory

pytestmark = pytest.mark.django_db

LEDGER = [LoyaltyAccount, PointsTransaction, PointsLot, LotAllocation, TierHistory]


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@test.local", is_staff=True, is_superuser=True)


@pytest.fixture
def ledger(programme, superuser):
    customer = CustomerFactory()
    points_adjust(customer=customer, points=300, reason="welcome", actor=superuser)
    return LoyaltyAccount.objects.get(customer=customer)


def test_every_loyalty_model_is_registered():
    from django.apps import apps

    models = set(apps.get_app_config("loyalty").get_models())
    assert models <= set(admin.site._registry)


@pytest.mark.parametrize("model", LEDGER)
def test_the_ledger_is_read_only_even_for_a_superuser(rf, superuser, model):
    request = rf.get("/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_ledger_pages_render_and_a_posted_change_is_refused(client, superuser, ledger):
    client.force_login(superuser)
    tx = PointsTransaction.objects.get(account=ledger)
    lot = PointsLot.objects.get(account=ledger)
    for url in [
        reverse("admin:loyalty_loyaltyaccount_changelist"),
        reverse("admin:loyalty_loyaltyaccount_change", args=[ledger.pk]),
        reverse("admin:loyalty_pointstransaction_changelist"),
        reverse("admin:loyalty_pointstransaction_change", args=[tx.pk]),
        reverse("admin:loyalty_pointslot_changelist"),
    ]:
        assert client.get(url).status_code == 200, url
    url = reverse("admin:loyalty_pointslot_change", args=[lot.pk])
    response = client.post(url, {"points": 9999, "remaining": 9999, "status": "available"})
    assert response.status_code == 403
    assert (
        client.post(
            reverse("admin:loyalty_loyaltyaccount_delete", args=[ledger.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:loyalty_pointstransaction_add")).status_code == 403
    ledger.refresh_from_db()
    assert (ledger.balance, PointsLot.objects.get(pk=lot.pk).remaining) == (300, 300)
    assert list(ledger_faults()) == []


def test_configuration_pages_render_for_a_superuser(client, superuser, programme):
    TierFactory(slug="gold", rank=2)
    reward = RewardFactory()
    client.force_login(superuser)
    for name in [
        "programme",
        "tier",
        "earnrule",
        "reward",
        "redemption",
        "coupon",
        "couponbatch",
        "referral",
        "badge",
        "customerbadge",
        "pointsadjustment",
    ]:
        assert client.get(reverse(f"admin:loyalty_{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:loyalty_reward_change", args=[reward.pk])).status_code == 200
    assert client.get(reverse("admin:loyalty_earnrule_add")).status_code == 200


def test_the_programme_is_a_single_row(client, superuser, programme):
    client.force_login(superuser)
    assert Programme.objects.count() == 1
    assert client.get(reverse("admin:loyalty_programme_add")).status_code == 403
    url = reverse("admin:loyalty_programme_delete", args=[programme.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Programme.objects.count() == 1


def test_reward_stock_cannot_be_edited_in_the_admin(client, superuser, programme):
    reward = RewardFactory(stock=5)
    client.force_login(superuser)
    response = client.get(reverse("admin:loyalty_reward_change", args=[reward.pk]))
    assert 'name="stock"' not in response.content.decode()
