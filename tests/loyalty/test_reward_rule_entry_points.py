"""One rule, every way in: a voucher or cash-off reward needs the kind of coupon it pays out
(``reward_problems``). The service refuses it, and the dashboard and the Django admin show the
refusal on the field; each refusal changes nothing."""

import pytest
from django.urls import reverse

from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.models import Reward
from apps.loyalty.services.configuration import reward_create, reward_update
from tests.accounts.factories import UserFactory
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db

MESSAGE = "A voucher reward needs the voucher's kind."


def _form(**overrides):
    data = {
        "name_en": "Tea voucher",
        "slug": "tea-voucher",
        "kind": "voucher",
        "description": "",
        "cost_points": 500,
        "per_member_limit": "",
        "coupon_kind": "",
        "coupon_value": "10",
        "coupon_valid_days": 90,
        "coupon_min_spend": "0",
        "is_active": "on",
    }
    return data | overrides


def _state():
    return (
        list(Reward.objects.order_by("pk").values_list("slug", "kind", "coupon_kind")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@test.local", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("kind", ["voucher", "cash_off"])
def test_the_service_refuses_a_voucher_without_its_coupon_kind(kind, marketer):
    before = _state()
    with pytest.raises(ValidationFailed) as refused:
        reward_create(actor=marketer, name="X", slug="x", kind=kind, cost_points=10)
    assert (refused.value.message, refused.value.extra) == (MESSAGE, {"field": "coupon_kind"})
    assert _state() == before
    reward = RewardFactory(kind="physical", coupon_kind="")
    before = _state()
    with pytest.raises(ValidationFailed, match="voucher's kind"):
        reward_update(reward=reward, actor=marketer, kind=kind)
    assert _state() == before


def test_the_dashboard_shows_the_refusal_on_create_and_edit(client, marketer):
    client.force_login(marketer)
    before = _state()
    response = client.post(reverse("dashboard:loyalty-reward-create"), _form())
    assert response.status_code == 400  # the dashboard answers a refused form with 400
    assert response.context["form"].errors["coupon_kind"] == [MESSAGE]
    assert _state() == before

    reward = RewardFactory(slug="mug", kind="physical", coupon_kind="")
    before = _state()
    response = client.post(
        reverse("dashboard:loyalty-reward-edit", args=[reward.pk]),
        _form(slug="mug", kind="cash_off"),
    )
    assert response.status_code == 400  # the dashboard answers a refused form with 400
    assert response.context["form"].errors["coupon_kind"] == [MESSAGE]
    assert _state() == before


def test_the_admin_shows_the_refusal_on_add_and_change(client, superuser):
    client.force_login(superuser)
    before = _state()
    response = client.post(reverse("admin:loyalty_reward_add"), _form())
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["coupon_kind"] == [MESSAGE]
    assert _state() == before

    reward = RewardFactory(slug="mug", kind="physical", coupon_kind="")
    before = _state()
    response = client.post(
        reverse("admin:loyalty_reward_change", args=[reward.pk]), _form(slug="mug")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["coupon_kind"] == [MESSAGE]
    assert _state() == before


def test_a_voucher_with_its_coupon_kind_is_accepted_everywhere(client, marketer, superuser):
    client.force_login(marketer)
    response = client.post(reverse("dashboard:loyalty-reward-create"), _form(coupon_kind="fixed"))
    assert response.status_code == 302, response.context["form"].errors
    client.force_login(superuser)
    response = client.post(
        reverse("admin:loyalty_reward_add"), _form(slug="tea-2", coupon_kind="percent")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert sorted(Reward.objects.values_list("slug", "coupon_kind")) == [
        ("tea-2", "percent"),
        ("tea-voucher", "fixed"),
    ]
