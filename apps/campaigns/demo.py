"""Demo campaigns for ``seed_demo``: a finished broadcast with a coupon, two variants and a
holdout, sent three weeks ago to the win-back segment — with the orders that followed, so its
page shows reach, conversion against the holdout, uplift, costs and ROI computed from the data —
and two running journeys (birthday care with bonus points; win-back after 60 days with a
coupon). History is not mailed: the past send goes through the locmem e-mail back-end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test.utils import override_settings

from apps.analytics.models import Segment, SnapshotMember
from apps.customers import demo
from apps.customers.models import Customer, Store
from apps.loyalty.services import coupon_redeem, order_ingest

from .enums import MessageStatus
from .models import Campaign, Message
from .services.delivery import messages_deliver
from .services.lifecycle import campaign_complete, campaign_save, campaign_start
from .services.queueing import messages_queue

BROADCAST_VARIANTS = [
    {
        "label": "A",
        "weight": 1,
        "subject_en": "{{ first_name|default('Hello') }}, ¥20 off your next visit",
        "subject_zh_hans": "{{ first_name|default('您好') }}，下次到店立减20元",
        "body_en": (
            "We miss you, {{ first_name|default('friend') }}.\n\n"
            "Here is ¥20 off any purchase of ¥100 or more: {{ coupon_code }} "
            "(valid for 30 days).\n\nYou have {{ points }} points: {{ links.rewards }}"
        ),
        "body_zh_hans": (
            "{{ first_name|default('亲爱的会员') }}，好久不见。\n\n"
            "送您一张满100减20元优惠券：{{ coupon_code }}（30天内有效）。\n\n"
            "您目前有 {{ points }} 积分：{{ links.rewards }}"
        ),
        "sms_body_en": "¥20 off ¥100+: {{ coupon_code }}",
        "sms_body_zh_hans": "满100减20元优惠券：{{ coupon_code }}",
    },
    {
        "label": "B",
        "weight": 1,
        "subject_en": "A gift for you, {{ first_name|default('member') }}",
        "subject_zh_hans": "{{ first_name|default('会员') }}，送您一份礼物",
        "body_en": (
            "Your {{ tier|default('member') }} gift: {{ coupon_code }} takes ¥20 off ¥100.\n\n"
            "See your coupons: {{ links.coupons }}"
        ),
        "body_zh_hans": (
            "您的{{ tier|default('会员') }}专属礼物：优惠码 {{ coupon_code }}，满100减20元。\n\n"
            "查看优惠券：{{ links.coupons }}"
        ),
        "sms_body_en": "Gift: {{ coupon_code }}, ¥20 off ¥100",
        "sms_body_zh_hans": "专属礼物：{{ coupon_code }}，满100减20",
    },
]

BIRTHDAY = {
    "label": "A",
    "subject_en": "Happy birthday, {{ first_name|default('dear member') }}!",
    "subject_zh_hans": "{{ first_name|default('亲爱的会员') }}，生日快乐！",
    "body_en": (
        "Happy birthday! We added {{ bonus_points }} points to your account — you now have "
        "{{ points }}.\n\nTreat yourself: {{ links.rewards }}"
    ),
    "body_zh_hans": (
        "生日快乐！我们为您送上 {{ bonus_points }} 积分，您现在共有 {{ points }} 积分。\n\n"
        "犒劳一下自己：{{ links.rewards }}"
    ),
    "sms_body_en": "Happy birthday! +{{ bonus_points }} points from us.",
    "sms_body_zh_hans": "生日快乐！送您 {{ bonus_points }} 积分。",
}

WIN_BACK = {
    "label": "A",
    "subject_en": "It has been a while, {{ first_name|default('friend') }}",
    "subject_zh_hans": "{{ first_name|default('亲爱的会员') }}，好久不见",
    "body_en": (
        "Come back for ¥30 off ¥150: {{ coupon_code }}.\n\n"
        "Your {{ points }} points are waiting: {{ links.rewards }}"
    ),
    "body_zh_hans": (
        "回来看看吧，满150减30元：{{ coupon_code }}。\n\n"
        "您的 {{ points }} 积分等您使用：{{ links.rewards }}"
    ),
    "sms_body_en": "¥30 off ¥150: {{ coupon_code }}",
    "sms_body_zh_hans": "满150减30元：{{ coupon_code }}",
}


def _send_in_the_past(campaign: Campaign, at: dt.datetime) -> None:
    ids = list(
        SnapshotMember.objects.filter(snapshot_id=campaign.snapshot_id)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )
    for start in range(0, len(ids), 1000):
        messages_queue(
            campaign=campaign, customer_ids=ids[start : start + 1000], step="send", now=at
        )
    Campaign.objects.filter(pk=campaign.pk).update(placed_at=at)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        while messages_deliver(campaign_id=campaign.pk, limit=500, now=at).claimed:
            pass
    campaign.refresh_from_db()
    campaign_complete(campaign=campaign, now=at + dt.timedelta(minutes=20))


def _orders_that_followed(ctx: demo.DemoContext, campaign: Campaign, at: dt.datetime) -> int:
    """Some recipients came back with their coupon within the week (the effect the report
    measures against the holdout, which got no coupon)."""
    rng = ctx.rng("campaign-orders")
    store = Store.objects.order_by("pk").first()
    made = 0
    treated = Message.objects.filter(
        campaign=campaign, status__in=(MessageStatus.SENT, MessageStatus.DELIVERED)
    ).select_related("coupon", "customer")
    for message in treated.order_by("pk"):
        if rng.random() > 0.14:
            continue
        placed = at + dt.timedelta(days=rng.uniform(0.5, 9), hours=rng.randint(0, 8))
        gross = Decimal(rng.randrange(128, 480))
        coupon = message.coupon if message.coupon is not None and rng.random() < 0.8 else None
        discount = coupon.value if coupon is not None else Decimal(0)
        external_id = f"CMP{campaign.pk:03d}-{message.pk:06d}"
        order, _created, _outcome = order_ingest(
            store=store,
            external_id=external_id,
            customer=message.customer,
            placed_at=placed,
            total=gross - discount,
            channel="store",
            discount=discount,
            coupon_code=coupon.code if coupon is not None else "",
            lines=[
                {
                    "sku": "GIFT-SET",
                    "name": "Gift set",
                    "category": "Gifts",
                    "quantity": Decimal(1),
                    "unit_price": gross,
                }
            ],
        )
        if coupon is not None:
            coupon_redeem(
                code=coupon.code,
                customer=message.customer,
                store=store,
                order_external_id=order.external_id,
            )
        made += 1
    return made


def seed_campaigns(ctx: demo.DemoContext) -> dict[str, int]:
    marketer = ctx.users.get("marketer@example.com")
    win_back = Segment.objects.filter(name_en="Lapsed 60+ days, e-mail allowed").first()
    if win_back is None or not Customer.objects.exists():
        return {}
    at = ctx.anchor - dt.timedelta(days=21) + dt.timedelta(hours=10, minutes=30)
    broadcast = campaign_save(
        actor=marketer,
        names={"name_en": "We miss you: ¥20 coupon", "name_zh_hans": "想念您：20元优惠券"},
        settings={
            "kind": "broadcast",
            "segment": win_back,
            "channels": ["email", "sms", "portal"],
            "offer_kind": "coupon",
            "coupon_kind": "fixed",
            "coupon_value": Decimal(20),
            "coupon_min_spend": Decimal(100),
            "coupon_valid_days": 30,
            "holdout_percent": 20,
            "cost_per_message": Decimal("0.05"),
            "budget": Decimal(500),
            "conversion_days": 14,
        },
        variants=BROADCAST_VARIANTS,
    )
    broadcast = campaign_start(campaign=broadcast, actor=marketer, now=at)
    _send_in_the_past(broadcast, at)
    orders = _orders_that_followed(ctx, broadcast, at)
    birthday = campaign_save(
        actor=marketer,
        names={"name_en": "Birthday care", "name_zh_hans": "生日关怀"},
        settings={
            "kind": "triggered",
            "trigger": "birthday",
            "channels": ["email", "portal"],
            "offer_kind": "bonus_points",
            "bonus_points": 200,
            "holdout_percent": 10,
        },
        variants=[BIRTHDAY],
    )
    campaign_start(campaign=birthday, actor=marketer)
    lapsed = campaign_save(
        actor=marketer,
        names={"name_en": "Win-back after 60 days", "name_zh_hans": "60天未购召回"},
        settings={
            "kind": "triggered",
            "trigger": "inactive_n_days",
            "trigger_days": 60,
            "channels": ["email", "sms", "portal"],
            "offer_kind": "coupon",
            "coupon_kind": "fixed",
            "coupon_value": Decimal(30),
            "coupon_min_spend": Decimal(150),
            "coupon_valid_days": 21,
            "holdout_percent": 15,
            "cost_per_message": Decimal("0.05"),
        },
        variants=[WIN_BACK],
    )
    campaign_start(campaign=lapsed, actor=marketer)
    return {
        "campaigns": 3,
        "campaign messages": Message.objects.filter(campaign=broadcast).count(),
        "orders after the campaign": orders,
    }
