"""The staff loyalty pages' writes: each goes through its service, is audited, and a refusal
changes nothing."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from apps.core.models import AuditEvent
from apps.loyalty.exports import coupon_batch_export, liability_export
from apps.loyalty.models import (
    Coupon,
    CouponBatch,
    EarnRule,
    LoyaltyAccount,
    PointsAdjustment,
    PointsTransaction,
    Programme,
    Redemption,
    Reward,
    Tier,
)
from apps.loyalty.services import coupon_batch_create
from apps.loyalty.verification import ledger_faults
from tests.dashboard import loyalty_fixtures

pytestmark = pytest.mark.django_db
loyalty_world = loyalty_fixtures.loyalty_world


def _balance(customer) -> int:
    return LoyaltyAccount.objects.get(customer=customer).balance


def _state():
    """A fingerprint of everything a refused request must leave alone."""
    return (
        list(LoyaltyAccount.objects.order_by("pk").values_list("balance", "pending")),
        PointsTransaction.objects.count(),
        list(PointsAdjustment.objects.order_by("pk").values_list("status", flat=True)),
        list(Redemption.objects.order_by("pk").values_list("status", flat=True)),
        list(Reward.objects.order_by("pk").values_list("stock", "name")),
        CouponBatch.objects.count(),
        AuditEvent.objects.count(),
        Programme.objects.values_list("point_value", "adjustment_limit").get(),
    )


# --- points adjustment and approval ------------------------------------------------------------


def test_agent_adjustment_within_the_limit_applies_at_once(client, agent, loyalty_world):
    customer = loyalty_world["customer"]
    client.force_login(agent)
    url = reverse("dashboard:loyalty-adjust", args=[customer.member_number])
    response = client.post(url, {"points": 120, "reason": "Missing receipt"})
    assert response.status_code == 302
    assert _balance(customer) == 1820
    assert AuditEvent.objects.filter(action="points.adjust", actor=agent).count() == 1


def test_agent_adjustment_above_the_limit_waits_and_the_balance_does_not_move(
    client, agent, loyalty_world
):
    customer = loyalty_world["customer"]
    client.force_login(agent)
    url = reverse("dashboard:loyalty-adjust", args=[customer.member_number])
    response = client.post(url, {"points": 800, "reason": "Lost card"}, follow=True)
    assert "waits for a manager" in response.content.decode()
    assert _balance(customer) == 1700
    assert PointsAdjustment.objects.filter(status="pending", requested_by=agent).count() == 1


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"points": 0, "reason": "x"},
            {"points": ["An adjustment needs a non-zero number of points."]},
        ),
        ({"points": 10, "reason": ""}, {"reason": ["This field is required."]}),
    ],
)
def test_invalid_or_refused_adjustment_changes_nothing(client, agent, loyalty_world, data, errors):
    customer = loyalty_world["customer"]
    client.force_login(agent)
    before = _state()
    response = client.post(reverse("dashboard:loyalty-adjust", args=[customer.member_number]), data)
    assert response.status_code == 400
    assert response.context["form"].errors == errors
    assert _state() == before


def test_removing_more_than_the_balance_is_refused(client, agent, loyalty_world):
    from apps.loyalty.services import points_adjust
    from tests.customers.factories import CustomerFactory

    poor = CustomerFactory()
    points_adjust(customer=poor, points=100, reason="seed", actor=loyalty_world["root"])
    client.force_login(agent)
    before = _state()
    url = reverse("dashboard:loyalty-adjust", args=[poor.member_number])
    response = client.post(url, {"points": -200, "reason": "Fraud"})
    assert response.status_code == 400 and "only 100 points" in response.content.decode()
    assert _state() == before


def test_marketer_cannot_adjust_points(client, marketer, loyalty_world):
    customer = loyalty_world["customer"]
    client.force_login(marketer)
    before = _state()
    url = reverse("dashboard:loyalty-adjust", args=[customer.member_number])
    assert client.post(url, {"points": 10, "reason": "x"}).status_code == 403
    assert _state() == before


def test_manager_approves_a_pending_adjustment_and_the_balance_changes(
    client, manager, loyalty_world
):
    pending, customer = loyalty_world["pending"], loyalty_world["customer"]
    client.force_login(manager)
    url = reverse("dashboard:loyalty-approval-decide", args=[pending.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("approved", manager)
    assert _balance(customer) == 2600
    assert list(ledger_faults()) == []


def test_manager_rejects_and_nothing_moves(client, manager, loyalty_world):
    pending, customer = loyalty_world["pending"], loyalty_world["customer"]
    client.force_login(manager)
    url = reverse("dashboard:loyalty-approval-decide", args=[pending.pk])
    before = PointsTransaction.objects.count()
    response = client.post(url, {"decision": "reject"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:loyalty-approval-list")
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("rejected", manager)
    assert _balance(customer) == 1700 and PointsTransaction.objects.count() == before


def test_requester_cannot_approve_their_own_request(client, manager, loyalty_world):
    customer = loyalty_world["customer"]
    own = PointsAdjustment.objects.create(
        account=LoyaltyAccount.objects.get(customer=customer),
        points=700,
        reason="mine",
        status="pending",
        requested_by=manager,
    )
    client.force_login(manager)
    before = _state()
    response = client.post(
        reverse("dashboard:loyalty-approval-decide", args=[own.pk]),
        {"decision": "approve"},
        follow=True,
    )
    assert "Someone else must approve" in response.content.decode()
    assert _state() == before


def test_agent_cannot_approve(client, agent, loyalty_world):
    client.force_login(agent)
    before = _state()
    url = reverse("dashboard:loyalty-approval-decide", args=[loyalty_world["pending"].pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    assert _state() == before


def test_deciding_twice_is_refused(client, manager, administrator, loyalty_world):
    url = reverse("dashboard:loyalty-approval-decide", args=[loyalty_world["pending"].pk])
    client.force_login(manager)
    assert client.post(url, {"decision": "approve"}, follow=True).status_code == 200
    client.force_login(administrator)
    before = _state()
    response = client.post(url, {"decision": "approve"}, follow=True)
    assert response.redirect_chain == [(reverse("dashboard:loyalty-approval-list"), 302)]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("error", "This adjustment was already decided.")
    ]
    assert _state() == before
    assert PointsAdjustment.objects.get(pk=loyalty_world["pending"].pk).decided_by == manager


# --- fulfilment ----------------------------------------------------------------------------------


def test_agent_fulfils_a_redemption_with_notes(client, agent, loyalty_world):
    redemption = loyalty_world["redemption"]
    client.force_login(agent)
    url = reverse("dashboard:loyalty-redemption-fulfil", args=[redemption.pk])
    response = client.post(url, {"notes": "SF123456"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:loyalty-redemption-list")
    redemption.refresh_from_db()
    assert (redemption.status, redemption.fulfilment_notes) == ("fulfilled", "SF123456")
    assert AuditEvent.objects.filter(action="redemption.fulfil", actor=agent).count() == 1


def test_cancelling_gives_the_points_and_stock_back(client, agent, loyalty_world):
    redemption, customer = loyalty_world["redemption"], loyalty_world["customer"]
    client.force_login(agent)
    url = reverse("dashboard:loyalty-redemption-cancel", args=[redemption.pk])
    response = client.post(url, {"reason": "Out of colour"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:loyalty-redemption-list")
    redemption.refresh_from_db()
    assert redemption.status == "cancelled"
    assert _balance(customer) == 2000
    assert Reward.objects.get(pk=redemption.reward_id).stock == 20


def test_cancel_without_reason_and_fulfil_by_marketer_change_nothing(
    client, agent, marketer, loyalty_world
):
    redemption = loyalty_world["redemption"]
    before = _state()
    client.force_login(agent)
    response = client.post(
        reverse("dashboard:loyalty-redemption-cancel", args=[redemption.pk]), {}, follow=True
    )
    assert response.redirect_chain == [(reverse("dashboard:loyalty-redemption-list"), 302)]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("error", "This field is required.")
    ]
    client.force_login(marketer)
    url = reverse("dashboard:loyalty-redemption-fulfil", args=[redemption.pk])
    assert client.post(url, {"notes": "x"}).status_code == 403
    assert _state() == before


# --- coupons -------------------------------------------------------------------------------------


def test_marketer_generates_a_batch_and_exports_its_codes_audited(client, marketer, loyalty_world):
    client.force_login(marketer)
    response = client.post(
        reverse("dashboard:loyalty-coupon-create"),
        {
            "name_en": "Autumn",
            "name_zh_hans": "秋季",
            "kind": "fixed",
            "value": "20",
            "min_spend": "100",
            "max_uses": 1,
            "max_uses_per_customer": 1,
            "size": 25,
        },
    )
    batch = CouponBatch.objects.get(name_en="Autumn")
    assert batch.name_zh_hans == "秋季"
    assert response["Location"] == reverse("dashboard:loyalty-coupon-batch", args=[batch.pk])
    assert batch.coupons.count() == 25
    export = client.get(reverse("dashboard:loyalty-coupon-export", args=[batch.pk, "csv"]))
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    codes = set(Coupon.objects.filter(batch=batch).values_list("code", flat=True))
    assert {line.split(",")[0] for line in body.splitlines()[1:]} == codes
    event = AuditEvent.objects.get(action="export.coupons")
    assert event.actor == marketer and event.target_id == str(batch.pk)
    xlsx = client.get(reverse("dashboard:loyalty-coupon-export", args=[batch.pk, "xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    assert AuditEvent.objects.filter(action="export.coupons").count() == 2


def test_a_batch_named_with_a_slash_exports_as_xlsx_with_a_valid_sheet_title(
    client, marketer, loyalty_world
):
    batch = coupon_batch_create(
        name="Black Friday 11/29: [all] stores?",
        kind="fixed",
        value=Decimal("5"),
        min_spend=Decimal("0"),
        valid_from=None,
        valid_until=None,
        max_uses=1,
        max_uses_per_customer=1,
        size=3,
        actor=marketer,
    )
    client.force_login(marketer)

    response = client.get(reverse("dashboard:loyalty-coupon-export", args=[batch.pk, "xlsx"]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="coupons-{batch.pk}-')
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws.title == "Black Friday 11-29- -all- store"
    codes = set(batch.coupons.values_list("code", flat=True))
    assert {row[0] for row in ws.iter_rows(min_row=2, values_only=True)} == codes
    event = AuditEvent.objects.get(action="export.coupons")
    assert event.target_id == str(batch.pk) and event.after["format"] == "xlsx"


def test_an_export_that_fails_writes_no_audit_row(marketer, loyalty_world):
    def broken_writer(header, rows):
        raise OSError("disk full")

    with pytest.raises(OSError):
        coupon_batch_export(
            actor=marketer, batch=loyalty_world["batch"], fmt="xlsx", write=broken_writer
        )
    with pytest.raises(OSError):
        liability_export(
            actor=marketer, months=3, since=timezone.now(), fmt="xlsx", write=broken_writer
        )
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_agent_sees_the_batch_but_neither_codes_nor_export(client, agent, loyalty_world):
    batch = loyalty_world["batch"]
    client.force_login(agent)
    page = client.get(reverse("dashboard:loyalty-coupon-batch", args=[batch.pk])).content.decode()
    codes = list(batch.coupons.values_list("code", flat=True))
    assert len(codes) == 30 and [code for code in codes if code in page] == []
    before = _state()
    url = reverse("dashboard:loyalty-coupon-export", args=[batch.pk, "csv"])
    assert client.get(url).status_code == 403
    assert _state() == before


def test_invalid_batch_is_refused_and_nothing_is_generated(client, marketer, loyalty_world):
    client.force_login(marketer)
    before = _state()
    response = client.post(
        reverse("dashboard:loyalty-coupon-create"),
        {
            "name_en": "Bad",
            "kind": "percent",
            "value": "150",
            "min_spend": "0",
            "max_uses": 1,
            "max_uses_per_customer": 1,
            "size": 10,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "__all__": ["A percentage must be between 0 and 100."]
    }
    assert _state() == before


def test_a_batch_without_a_name_in_either_language_is_refused_on_the_form(
    client, marketer, loyalty_world
):
    client.force_login(marketer)
    before = _state()
    response = client.post(
        reverse("dashboard:loyalty-coupon-create"),
        {
            "kind": "fixed",
            "value": "5",
            "min_spend": "0",
            "max_uses": 1,
            "max_uses_per_customer": 1,
            "size": 3,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"name_en": ["A batch needs a name."]}
    assert _state() == before


# --- rewards, rules, tiers, programme ------------------------------------------------------------


def test_restock_adds_units_and_write_off_beyond_stock_is_refused(client, marketer, loyalty_world):
    reward = loyalty_world["reward"]
    client.force_login(marketer)
    url = reverse("dashboard:loyalty-reward-restock", args=[reward.pk])
    response = client.post(url, {"add": 5})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:loyalty-reward-list")
    assert Reward.objects.get(pk=reward.pk).stock == 24  # 20 − 1 redeemed + 5
    assert AuditEvent.objects.filter(action="reward.restock").count() == 1
    before = _state()
    response = client.post(url, {"add": -100})
    assert response.status_code == 400
    assert response.context["form"].errors == {"__all__": ["Only 24 units are in stock."]}
    assert _state() == before


def test_marketer_creates_a_reward_with_an_image(
    client, marketer, loyalty_world, tmp_path, settings
):
    import base64

    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    client.force_login(marketer)
    response = client.post(
        reverse("dashboard:loyalty-reward-create"),
        {
            "name_en": "Tote bag",
            "slug": "tote-bag",
            "kind": "physical",
            "cost_points": 800,
            "stock": 40,
            "coupon_value": "0",
            "coupon_valid_days": 90,
            "coupon_min_spend": "0",
            "is_active": "on",
            "image": SimpleUploadedFile("tote.png", png, content_type="image/png"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    reward = Reward.objects.get(slug="tote-bag")
    assert (reward.stock, reward.cost_points) == (40, 800) and reward.image.name.startswith(
        "rewards/"
    )
    assert AuditEvent.objects.filter(action="reward.create", actor=marketer).count() == 1


def test_earn_rule_create_preview_and_switch_off(client, marketer, loyalty_world):
    client.force_login(marketer)
    data = {
        "name_en": "Cups ×3",
        "kind": "category",
        "multiplier": "3",
        "bonus_points": 0,
        "category": "cups",
        "min_spend": "0",
        "priority": 100,
        "stackable": "on",
        "is_active": "on",
    }
    preview = client.post(
        reverse("dashboard:loyalty-rule-preview"),
        {**data, "preview-amount": "100", "preview-category": "cups"},
    )
    assert preview.context["result"].points == 300 and preview.context["current"].points == 100
    assert not EarnRule.objects.filter(name="Cups ×3").exists()  # a preview writes nothing
    created = client.post(reverse("dashboard:loyalty-rule-create"), data)
    rule = EarnRule.objects.get(name="Cups ×3")
    assert (rule.kind, rule.category, rule.multiplier, rule.is_active) == (
        "category",
        "cups",
        Decimal(3),
        True,
    )
    switched = client.post(reverse("dashboard:loyalty-rule-deactivate", args=[rule.pk]))
    assert (created.status_code, switched.status_code) == (302, 302)
    rule.refresh_from_db()
    assert rule.is_active is False
    actions = AuditEvent.objects.filter(action__startswith="earn_rule.").order_by("id")
    assert [(e.action, e.actor) for e in actions] == [
        ("earn_rule.create", marketer),
        ("earn_rule.update", marketer),  # switching off is an update of is_active
    ]
    assert (actions.last().before, actions.last().after) == (
        {"is_active": True},
        {"is_active": False},
    )


def test_tier_keep_threshold_above_reach_threshold_is_refused(client, manager, loyalty_world):
    tier = loyalty_world["tiers"][1]
    client.force_login(manager)
    before = _state()
    response = client.post(
        reverse("dashboard:loyalty-tier-edit", args=[tier.pk]),
        {
            "name_en": "Silver",
            "metric": "spend",
            "threshold": "1000",
            "retention_threshold": "2000",
            "window_months": 12,
            "earn_multiplier": "1.25",
            "entry_gift_points": 0,
            "color": "#aaaaaa",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "retention_threshold": ["The threshold to keep a tier cannot exceed the one to reach it."]
    }
    assert _state() == before and Tier.objects.get(pk=tier.pk).retention_threshold == 0


def _new_tier(**over) -> dict:
    return {
        "name_en": "Gold",
        "name_zh_hans": "金卡",
        "slug": "gold",
        "rank": 2,
        "metric": "spend",
        "threshold": "5000",
        "retention_threshold": "4000",
        "window_months": 12,
        "earn_multiplier": "1.50",
        "benefits_en": "Free shipping\nTasting invitations",
        "benefits_zh_hans": "免运费\n品鉴会邀请",
        "entry_gift_points": 500,
        "color": "#c9a227",
        **over,
    }


def test_manager_creates_a_tier_audited(client, manager, loyalty_world):
    client.force_login(manager)
    page = client.get(reverse("dashboard:loyalty-tier-create"))
    assert page.context["form"].initial["rank"] == 2  # next after Silver
    response = client.post(reverse("dashboard:loyalty-tier-create"), _new_tier())
    assert response.status_code == 302 and response["Location"] == reverse(
        "dashboard:loyalty-tier-list"
    )
    tier = Tier.objects.get(slug="gold")
    assert (tier.name, tier.rank, tier.threshold, tier.retention_threshold) == (
        "Gold",
        2,
        Decimal(5000),
        Decimal(4000),
    )
    with translation.override("zh-hans"):  # the member reads their language
        assert (tier.name, tier.benefit_list) == ("金卡", ["免运费", "品鉴会邀请"])
    assert (tier.earn_multiplier, tier.entry_gift_points, tier.benefit_list) == (
        Decimal("1.50"),
        500,
        ["Free shipping", "Tasting invitations"],
    )
    event = AuditEvent.objects.get(action="tier.create")
    assert (event.actor, event.target_id, event.before) == (manager, str(tier.pk), None)
    assert event.after == {
        "name_en": "Gold",
        "name_zh_hans": "金卡",
        "slug": "gold",
        "rank": 2,
        "metric": "spend",
        "threshold": "5000.00",
        "retention_threshold": "4000.00",
        "window_months": 12,
        "earn_multiplier": "1.50",
        "benefits_en": "Free shipping\nTasting invitations",
        "benefits_zh_hans": "免运费\n品鉴会邀请",
        "entry_gift_points": 500,
        "color": "#c9a227",
    }
    listing = client.get(reverse("dashboard:loyalty-tier-list")).content.decode()
    assert reverse("dashboard:loyalty-tier-create") in listing and "Gold" in listing


def test_agent_cannot_create_a_tier(client, agent, loyalty_world):
    client.force_login(agent)
    before = (_state(), Tier.objects.count())
    assert client.get(reverse("dashboard:loyalty-tier-create")).status_code == 403
    assert client.post(reverse("dashboard:loyalty-tier-create"), _new_tier()).status_code == 403
    assert (_state(), Tier.objects.count()) == before
    listing = client.get(reverse("dashboard:loyalty-tier-list")).content.decode()
    assert reverse("dashboard:loyalty-tier-create") not in listing


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        (
            {"threshold": "800", "retention_threshold": "500"},
            "threshold",
            "The threshold must be at least that of Silver (1000.00).",
        ),
        ({"rank": 1}, "rank", "Tier with this Rank already exists."),
        ({"slug": "silver"}, "slug", "Tier with this Code already exists."),
    ],
)
def test_a_tier_that_does_not_fit_the_ladder_is_refused(
    client, manager, loyalty_world, over, field, message
):
    client.force_login(manager)
    before = (_state(), Tier.objects.count())
    response = client.post(reverse("dashboard:loyalty-tier-create"), _new_tier(**over))
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode().replace("&#x27;", "'")
    assert (_state(), Tier.objects.count()) == before


def test_manager_edits_programme_settings_audited(client, manager, loyalty_world):
    from django.forms.models import model_to_dict

    from apps.loyalty.services.configuration import PROGRAMME_FIELDS

    client.force_login(manager)
    data = model_to_dict(Programme.get(), fields=PROGRAMME_FIELDS)
    data.update(point_value="0.0200", adjustment_limit=1000)
    assert client.post(reverse("dashboard:loyalty-programme"), data).status_code == 302
    programme = Programme.get()
    assert (programme.point_value, programme.adjustment_limit) == (Decimal("0.0200"), 1000)
    event = AuditEvent.objects.get(action="programme.update")
    assert event.actor == manager
    assert event.before == {"point_value": "0.0100", "adjustment_limit": 500}
    assert event.after == {"point_value": "0.0200", "adjustment_limit": 1000}


def test_agent_cannot_change_programme_settings(client, agent, loyalty_world):
    client.force_login(agent)
    before = _state()
    url = reverse("dashboard:loyalty-programme")
    assert client.post(url, {"point_value": "9", "adjustment_limit": 999999}).status_code == 403
    assert _state() == before


def test_liability_export_is_audited(client, manager, loyalty_world):
    client.force_login(manager)
    response = client.get(reverse("dashboard:loyalty-liability-export", args=["csv"]) + "?months=3")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0] == "Month,Points issued,Points redeemed,Points expired"
    assert "Outstanding points,1700" in body
    assert AuditEvent.objects.filter(action="export.liability", actor=manager).count() == 1


@pytest.mark.parametrize("rule_id", ["abc", "-3", "1e9", ""])
def test_earn_rule_preview_with_a_crafted_rule_id_previews_a_new_rule(
    client, marketer, loyalty_world, rule_id
):
    """A rule_id that is no id was int()-ed in the view: a 500. Now the draft is a new rule."""
    client.force_login(marketer)
    data = {
        "name_en": "Cups ×3",
        "kind": "category",
        "multiplier": "3",
        "bonus_points": 0,
        "category": "cups",
        "min_spend": "0",
        "priority": 100,
        "stackable": "on",
        "is_active": "on",
        "rule_id": rule_id,
    }
    preview = client.post(
        reverse("dashboard:loyalty-rule-preview"),
        {**data, "preview-amount": "100", "preview-category": "cups"},
    )
    assert preview.status_code == 200
    assert preview.context["result"].points == 300
    assert not EarnRule.objects.filter(name="Cups ×3").exists()


def test_reward_form_shows_both_languages_side_by_side_and_only_what_the_kind_uses(
    client, marketer, loyalty_world
):
    client.force_login(marketer)
    page = client.get(reverse("dashboard:loyalty-reward-create")).content.decode()
    assert 'name="name_en"' in page and 'name="name_zh_hans"' in page
    assert "Name · English" in page and "Name · 简体中文" in page
    assert page.count('class="form-pair"') == 2  # name and description
    # Voucher fields are shown for the voucher kinds only.
    assert 'data-show-when="kind:cash_off voucher"' in page

    response = client.post(
        reverse("dashboard:loyalty-reward-create"),
        {
            "name_zh_hans": "茶具",
            "slug": "tea-set",
            "kind": "physical",
            "cost_points": 800,
            "coupon_kind": "percent",  # typed before switching kind: a physical gift ignores it
            "coupon_value": "15",
            "coupon_valid_days": 90,
            "coupon_min_spend": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    reward = Reward.objects.get(slug="tea-set")
    assert (reward.coupon_kind, reward.coupon_value) == ("", 0)
    assert reward.name == "茶具"  # no English name: English readers see the Chinese one


def test_a_reward_needs_a_name_in_at_least_one_language(client, marketer, loyalty_world):
    client.force_login(marketer)
    response = client.post(
        reverse("dashboard:loyalty-reward-create"),
        {"slug": "nameless", "kind": "physical", "cost_points": 10, "coupon_valid_days": 90},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["name_en"] == ["Enter it in at least one language."]
    assert not Reward.objects.filter(slug="nameless").exists()
