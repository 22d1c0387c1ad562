from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.loyalty.models import (
    Badge,
    Coupon,
    CouponBatch,
    EarnRule,
    LotAllocation,
    LoyaltyAccount,
    PointsLot,
    PointsTransaction,
    Programme,
    Reward,
    Tier,
    TierHistory,
)
from apps.loyalty.services import coupon_issue, points_adjust
from apps.loyalty.verification import ledger_faults
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import BadgeFactory, EarnRuleFactory, RewardFactory, TierFactory

pytestmark = pytest.mark.django_db

LEDGER = [LoyaltyAccount, PointsTransaction, PointsLot, LotAllocation, TierHistory]


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


# --- configuration changes are audited (invariant 8) -------------------------------------------


def _form_data(response) -> dict:
    """The POST body the admin page would send unchanged (split date/time widgets included)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        widget = field.widget
        if hasattr(widget, "widget"):  # the admin's related-object wrapper
            widget = widget.widget
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif hasattr(widget, "decompress"):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    return data


def _change(client, model: str, obj, **changes):
    url = reverse(f"admin:loyalty_{model}_change", args=[obj.pk])
    data = _form_data(client.get(url)) | changes
    return client.post(url, data)


def _add(client, model: str, **values):
    url = reverse(f"admin:loyalty_{model}_add")
    return client.post(url, _form_data(client.get(url)) | values)


def _events(action: str) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(action=action)
        .order_by("pk")
        .values_list("actor__email", "target_id", "before", "after")
    )


def test_programme_change_in_the_admin_is_audited(client, superuser, programme):
    client.force_login(superuser)
    response = _change(client, "programme", programme, point_value="0.0200", signup_bonus="150")
    assert response.status_code == 302
    assert _events("programme.update") == [
        (
            "root@test.local",
            str(programme.pk),
            {"point_value": "0.0100", "signup_bonus": 100},
            {"point_value": "0.0200", "signup_bonus": 150},
        )
    ]
    programme.refresh_from_db()
    assert (programme.point_value, programme.signup_bonus) == (Decimal("0.0200"), 150)


def test_saving_unchanged_writes_no_event(client, superuser, programme):
    client.force_login(superuser)
    assert _change(client, "programme", programme).status_code == 302
    assert not AuditEvent.objects.exists()


def test_tier_change_in_the_admin_is_audited_and_code_and_rank_are_fixed(
    client, superuser, programme
):
    tier = TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(1000))
    client.force_login(superuser)
    page = client.get(reverse("admin:loyalty_tier_change", args=[tier.pk])).content.decode()
    assert 'name="slug"' not in page and 'name="rank"' not in page
    response = _change(client, "tier", tier, threshold="1500.00", earn_multiplier="1.25")
    assert response.status_code == 302
    assert _events("tier.update") == [
        (
            "root@test.local",
            str(tier.pk),
            {"threshold": "1000.00", "earn_multiplier": "1.00"},
            {"threshold": "1500.00", "earn_multiplier": "1.25"},
        )
    ]


def test_tier_added_in_the_admin_goes_through_tier_create(client, superuser, programme):
    TierFactory(slug="member", name="Member", rank=0)
    client.force_login(superuser)
    response = _add(
        client,
        "tier",
        name_en="Gold",
        slug="gold",
        rank="1",
        metric="spend",
        threshold="5000",
        retention_threshold="4000",
        window_months="12",
        earn_multiplier="1.5",
        entry_gift_points="500",
        color="#c9a227",
    )
    assert response.status_code == 302
    gold = Tier.objects.get(slug="gold")
    [(actor, target, before, after)] = _events("tier.create")
    assert (actor, target, before) == ("root@test.local", str(gold.pk), None)
    assert (after["slug"], after["rank"], after["threshold"], after["entry_gift_points"]) == (
        "gold",
        1,
        "5000.00",
        500,
    )


def test_tier_below_the_previous_threshold_is_refused_on_the_admin_form(
    client, superuser, programme
):
    TierFactory(slug="silver", name="Silver", rank=1, threshold=Decimal(1000))
    client.force_login(superuser)
    response = _add(
        client, "tier", name_en="Gold", slug="gold", rank="2", threshold="900", color="#c9a227"
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["threshold"] == [
        "The threshold must be at least that of Silver (1000.00)."
    ]
    assert Tier.objects.count() == 1 and not AuditEvent.objects.exists()


def test_earn_rule_add_and_change_in_the_admin_are_audited(client, superuser, programme):
    silver = TierFactory(slug="silver", rank=1)
    client.force_login(superuser)
    response = _add(
        client,
        "earnrule",
        name_en="Tea ×2",
        kind="category",
        multiplier="2",
        category="tea",
        tiers=[str(silver.pk)],
    )
    assert response.status_code == 302
    rule = EarnRule.objects.get(name="Tea ×2")
    [(actor, target, before, after)] = _events("earn_rule.create")
    assert (actor, target, before) == ("root@test.local", str(rule.pk), None)
    assert (after["multiplier"], after["category"], after["tiers"]) == ("2", "tea", [silver.pk])
    assert list(rule.tiers.all()) == [silver]

    response = _change(client, "earnrule", rule, multiplier="3.00", tiers=[])
    assert response.status_code == 302
    assert _events("earn_rule.update") == [
        ("root@test.local", str(rule.pk), {"multiplier": "2.00"}, {"multiplier": "3.00"}),
        ("root@test.local", str(rule.pk), {"tiers": [silver.pk]}, {"tiers": []}),
    ]
    assert not rule.tiers.exists()


def test_earn_rule_ending_before_it_starts_is_refused_on_the_form(client, superuser, programme):
    client.force_login(superuser)
    response = _add(
        client,
        "earnrule",
        name_en="Backwards",
        kind="category",
        starts_at_0="2026-05-02",
        starts_at_1="00:00:00",
        ends_at_0="2026-05-01",
        ends_at_1="00:00:00",
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["ends_at"] == [
        "The end must come after the start."
    ]
    assert not EarnRule.objects.exists() and not AuditEvent.objects.exists()


def test_reward_add_and_change_in_the_admin_are_audited(client, superuser, programme):
    client.force_login(superuser)
    response = _add(
        client,
        "reward",
        name_en="Tote",
        slug="tote",
        kind="physical",
        cost_points="800",
        stock="40",
        coupon_value="0",
        coupon_valid_days="90",
        coupon_min_spend="0",
        is_active="on",
    )
    assert response.status_code == 302
    reward = Reward.objects.get(slug="tote")
    [(_actor, target, _before, after)] = _events("reward.create")
    assert (target, after["cost_points"], after["stock"]) == (str(reward.pk), 800, 40)

    assert _change(client, "reward", reward, cost_points="900").status_code == 302
    assert _events("reward.update") == [
        ("root@test.local", str(reward.pk), {"cost_points": 800}, {"cost_points": 900})
    ]
    assert Reward.objects.get(pk=reward.pk).stock == 40


def test_coupon_change_in_the_admin_is_audited(client, superuser, programme):
    coupon = coupon_issue(owner=None, kind="fixed", value=Decimal(20))
    # The admin's date/time inputs show whole seconds; start from times they can round-trip.
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=coupon.valid_from.replace(microsecond=0),
        valid_until=coupon.valid_until.replace(microsecond=0),
    )
    client.force_login(superuser)
    response = _change(client, "coupon", coupon, value="25.00", is_active="")
    assert response.status_code == 302
    # The new value is an update; switching it off goes through coupon_deactivate.
    assert _events("coupon.deactivate") == [
        ("root@test.local", str(coupon.pk), {"is_active": True}, {"is_active": False})
    ]
    assert _events("coupon.update") == [
        (
            "root@test.local",
            str(coupon.pk),
            {"value": "20.00"},
            {"value": "25.00"},
        )
    ]


def test_coupon_batches_stay_read_only(rf, superuser):
    request = rf.get("/")
    request.user = superuser
    model_admin = admin.site._registry[CouponBatch]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_badge_bonus_change_in_the_admin_is_audited(client, superuser, programme):
    badge = BadgeFactory(slug="tenth", bonus_points=50)
    client.force_login(superuser)
    assert _change(client, "badge", badge, bonus_points="80").status_code == 302
    assert _events("badge.update") == [
        ("root@test.local", str(badge.pk), {"bonus_points": 50}, {"bonus_points": 80})
    ]


def test_deletions_in_the_admin_are_audited(client, superuser, programme):
    single = EarnRuleFactory(name="Single", multiplier=Decimal(2))
    bulk = [EarnRuleFactory(name="Bulk A"), EarnRuleFactory(name="Bulk B")]
    client.force_login(superuser)
    url = reverse("admin:loyalty_earnrule_delete", args=[single.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    response = client.post(
        reverse("admin:loyalty_earnrule_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in bulk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not EarnRule.objects.exists()
    events = _events("earn_rule.delete")
    assert [(e[1], e[2]["name_en"], e[3]) for e in events] == [
        (str(single.pk), "Single", None),
        (str(bulk[0].pk), "Bulk A", None),
        (str(bulk[1].pk), "Bulk B", None),
    ]
    assert events[0][2]["multiplier"] == "2.00"


def test_a_refusal_by_the_service_is_shown_and_writes_nothing(client, superuser, programme):
    """A product multiplier without its SKU is refused by earn_rule_problems, the rule the
    service applies: the admin form shows it on the field, keeps what was typed, and nothing is
    saved or audited."""
    client.force_login(superuser)
    response = _add(client, "earnrule", name_en="No SKU", kind="sku", multiplier="2")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["sku"] == [
        "A product multiplier needs its SKU."
    ]
    assert not EarnRule.objects.exists() and not AuditEvent.objects.exists()


def test_coupon_change_keeps_uses_made_while_the_form_was_saved(
    client, superuser, programme, monkeypatch
):
    """A redemption that commits between the admin reading the coupon and saving it must not
    be undone: the admin writes only the fields its form changed."""
    from django.db.models import F

    from apps.loyalty.admin import CouponAdmin

    coupon = coupon_issue(owner=None, kind="fixed", value=Decimal(20), max_uses=5)
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=coupon.valid_from.replace(microsecond=0),
        valid_until=coupon.valid_until.replace(microsecond=0),
    )
    client.force_login(superuser)
    url = reverse("admin:loyalty_coupon_change", args=[coupon.pk])
    data = _form_data(client.get(url)) | {"value": "25.00"}
    read = CouponAdmin.get_object

    def read_then_a_use_commits(self, request, object_id, from_field=None):
        obj = read(self, request, object_id, from_field)
        if request.method == "POST":
            Coupon.objects.filter(pk=obj.pk).update(uses=F("uses") + 1)
        return obj

    monkeypatch.setattr(CouponAdmin, "get_object", read_then_a_use_commits)
    assert client.post(url, data).status_code == 302
    coupon.refresh_from_db()
    assert (coupon.value, coupon.uses) == (Decimal("25.00"), 1)


def test_coupon_maximum_cannot_go_below_its_uses(client, superuser, programme):
    coupon = coupon_issue(owner=None, kind="fixed", value=Decimal(20), max_uses=5)
    Coupon.objects.filter(pk=coupon.pk).update(
        uses=3,
        valid_from=coupon.valid_from.replace(microsecond=0),
        valid_until=coupon.valid_until.replace(microsecond=0),
    )
    client.force_login(superuser)
    response = _change(client, "coupon", coupon, max_uses="2")
    assert response.status_code == 302
    assert "used 3 times already" in client.get(response.url).content.decode()
    coupon.refresh_from_db()
    assert (coupon.max_uses, coupon.uses) == (5, 3) and not _events("coupon.update")


@pytest.mark.parametrize(("kind", "value"), [("percent", "150"), ("fixed", "-5"), ("percent", "0")])
def test_coupon_terms_are_checked_as_for_new_coupons(client, superuser, programme, kind, value):
    coupon = coupon_issue(owner=None, kind="fixed", value=Decimal(20))
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=coupon.valid_from.replace(microsecond=0),
        valid_until=coupon.valid_until.replace(microsecond=0),
    )
    client.force_login(superuser)
    response = _change(client, "coupon", coupon, kind=kind, value=value)
    assert response.status_code == 302
    coupon.refresh_from_db()
    assert (coupon.kind, coupon.value) == ("fixed", Decimal("20.00"))
    assert not _events("coupon.update")


def test_reward_window_ending_before_it_starts_is_refused(client, superuser, programme):
    client.force_login(superuser)
    response = _add(
        client,
        "reward",
        name_en="Late",
        slug="late",
        kind="physical",
        cost_points="100",
        coupon_value="0",
        coupon_valid_days="90",
        coupon_min_spend="0",
        starts_at_0="2026-12-10",
        starts_at_1="10:00:00",
        ends_at_0="2026-12-01",
        ends_at_1="10:00:00",
        is_active="on",
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "ends_at": ["The end must come after the start."]
    }
    assert not Reward.objects.filter(slug="late").exists() and not _events("reward.create")


def test_badge_add_and_change_go_through_the_audited_services(client, superuser, programme):
    client.force_login(superuser)
    response = _add(
        client,
        "badge",
        slug="tenth",
        name_en="Tenth order",
        rule="orders_count",
        threshold="10",
        bonus_points="50",
        icon="award",
        is_active="on",
    )
    assert response.status_code == 302
    badge = Badge.objects.get(slug="tenth")
    [(_actor, target, _before, after)] = _events("badge.create")
    assert (target, after["threshold"], after["bonus_points"]) == (str(badge.pk), 10, 50)
    assert _change(client, "badge", badge, bonus_points="80").status_code == 302
    assert _events("badge.update") == [
        ("root@test.local", str(badge.pk), {"bonus_points": 50}, {"bonus_points": 80})
    ]


def test_reward_changelist_reads_tiers_in_the_same_query(
    client, superuser, programme, django_assert_max_num_queries
):
    tiers = [TierFactory(slug=f"t{i}", rank=i) for i in range(3)]
    for i in range(12):
        RewardFactory(slug=f"r{i}", min_tier=tiers[i % 3])
    client.force_login(superuser)
    url = reverse("admin:loyalty_reward_changelist")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12, 40):
        RewardFactory(slug=f"r{i}", min_tier=tiers[i % 3])
    with django_assert_max_num_queries(len(few)):
        assert client.get(url).status_code == 200
