"""Demo complaints for ``seed_demo``: the cn-2026 calendar (holidays and make-up days), a
category tree, teams, SLA policies with escalation levels, saved replies, and months of tickets
replayed through the services (so clocks, breaches, events and compensation are what the
product computes) in every state: new, open, waiting, resolved (rated or not), closed, some
breached, one compensation waiting for approval. Member 1 has an open and a resolved one.

Drawn from ``ctx.rng("complaints")``; dates lie before the anchor. Mail is muted (``notify``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.conf import settings

from apps.accounts.models import User
from apps.core.calendars import calendar_import
from apps.customers import demo
from apps.customers.models import Customer, Order
from apps.loyalty.models import Tier

from .enums import Clock, CompensationKind, Notify, Priority, TicketChannel, TicketStatus
from .models import (
    Category,
    ComplaintSettings,
    EscalationLevel,
    SavedReply,
    SLAPolicy,
    Team,
    Ticket,
)
from .notify import muted
from .services.compensation import compensation_request
from .services.conversation import customer_reply, staff_reply
from .services.lifecycle import ticket_rate, ticket_status_set, tickets_auto_close
from .services.sla import breaches_sweep
from .services.tickets import ticket_open, ticket_take

CALENDAR = Path(settings.BASE_DIR) / "fixtures" / "calendars" / "cn-2026.json"
DAYS = 120

# code, English, Chinese, children [(code, English, Chinese)]
TREE = [
    (
        "product",
        "Product quality",
        "产品质量",
        [
            ("product-damaged", "Damaged on arrival", "到货破损"),
            ("product-defective", "Defective", "质量缺陷"),
            ("product-wrong", "Wrong item", "发错商品"),
        ],
    ),
    (
        "price",
        "Price",
        "价格",
        [
            ("price-overcharged", "Overcharged", "多收费用"),
            ("price-promotion", "Promotion not applied", "优惠未生效"),
        ],
    ),
    (
        "service",
        "Service attitude",
        "服务态度",
        [
            ("service-rude", "Rude staff", "店员态度差"),
            ("service-slow", "Slow service", "服务太慢"),
        ],
    ),
    (
        "delivery",
        "Delivery",
        "配送",
        [
            ("delivery-late", "Late", "配送延误"),
            ("delivery-lost", "Lost parcel", "包裹丢失"),
        ],
    ),
    (
        "billing",
        "Billing and points",
        "账单与积分",
        [
            ("billing-points", "Points missing", "积分未到账"),
            ("billing-coupon", "Coupon not accepted", "优惠券无法使用"),
        ],
    ),
    ("other", "Other", "其他", []),
]

SUBJECTS = {
    "product-damaged": [
        ("The cup arrived cracked", "杯子到货时已破裂"),
        ("Box crushed, contents broken", "包装被压坏，商品损坏"),
    ],
    "product-defective": [
        ("Kettle stopped working after a week", "水壶用了一周就坏了"),
        ("Zip broke on first use", "拉链第一次用就坏了"),
    ],
    "product-wrong": [
        ("Received the wrong size", "收到的尺码不对"),
        ("Wrong colour delivered", "颜色发错了"),
    ],
    "price-overcharged": [
        ("Charged twice at the till", "收银台重复扣款"),
        ("Price at the till higher than the shelf", "结账价格高于标价"),
    ],
    "price-promotion": [
        ("Buy-one-get-one not applied", "买一送一没有生效"),
        ("Member discount missing", "会员折扣没有计算"),
    ],
    "service-rude": [
        ("Cashier was rude to me", "收银员态度很差"),
        ("Staff ignored my question", "店员不理会我的问题"),
    ],
    "service-slow": [
        ("Waited 30 minutes to pay", "排队结账等了30分钟"),
        ("Nobody at the service desk", "服务台没有人"),
    ],
    "delivery-late": [
        ("Order three days late", "订单晚到三天"),
        ("Delivery slot missed", "错过了约定的配送时间"),
    ],
    "delivery-lost": [("Parcel marked delivered but not received", "显示已签收但没收到包裹")],
    "billing-points": [
        ("Points from my last purchase are missing", "上次购物的积分没有到账"),
        ("Birthday bonus not received", "没有收到生日积分"),
    ],
    "billing-coupon": [("Coupon refused at checkout", "结账时优惠券无法使用")],
    "other": [("Suggestion for the app", "对应用的建议")],
}

REPLIES = [
    (
        "Apology",
        "致歉",
        "We are sorry for the trouble and are looking into it now.",
        "非常抱歉给您带来不便，我们正在处理。",
    ),
    (
        "Ask for a photo",
        "请提供照片",
        "Could you send us a photo of the item and the receipt?",
        "请您提供商品和小票的照片，好吗？",
    ),
    (
        "Refund done",
        "已退款",
        "We have refunded the amount to your original payment method.",
        "款项已原路退回，请注意查收。",
    ),
    (
        "Points added",
        "积分已补发",
        "We have added the missing points to your account.",
        "我们已为您补发积分。",
    ),
]


def _reference() -> dict[str, Category]:
    calendar, _created = calendar_import(document=json.loads(CALENDAR.read_text(encoding="utf-8")))
    categories: dict[str, Category] = {}
    for position, (code, en, zh, children) in enumerate(TREE):
        root = Category.objects.create(
            code=code, name_en=en, name_zh_hans=zh, name=en, position=position
        )
        categories[code] = root
        for i, (child, c_en, c_zh) in enumerate(children):
            categories[child] = Category.objects.create(
                code=child, parent=root, name_en=c_en, name_zh_hans=c_zh, name=c_en, position=i
            )
    top = list(Tier.objects.order_by("-rank")[:2])
    urgent = SLAPolicy.objects.create(
        name="Urgent",
        name_en="Urgent",
        name_zh_hans="紧急",
        position=1,
        priorities=[Priority.URGENT],
        calendar=calendar,
        first_response_minutes=30,
        resolution_minutes=240,
    )
    vip = SLAPolicy.objects.create(
        name="Top tiers",
        name_en="Top tiers",
        name_zh_hans="高等级会员",
        position=2,
        calendar=calendar,
        first_response_minutes=60,
        resolution_minutes=480,
    )
    vip.tiers.set(top)
    standard = SLAPolicy.objects.create(
        name="Standard",
        name_en="Standard",
        name_zh_hans="标准",
        position=3,
        calendar=calendar,
        first_response_minutes=240,
        resolution_minutes=1440,
    )
    for policy in (urgent, vip, standard):
        EscalationLevel.objects.create(
            policy=policy, clock=Clock.RESOLUTION, percent=75, notify=Notify.TEAM_LEAD
        )
        EscalationLevel.objects.create(
            policy=policy, clock=Clock.RESOLUTION, percent=100, notify=Notify.MANAGERS
        )
    for title_en, title_zh, body_en, body_zh in REPLIES:
        SavedReply.objects.create(
            title=title_en,
            title_en=title_en,
            title_zh_hans=title_zh,
            body=body_en,
            body_en=body_en,
            body_zh_hans=body_zh,
        )
    settings_row = ComplaintSettings.get()
    settings_row.follow_up_category = categories["service"]
    settings_row.save()
    return categories


def _teams(categories: dict[str, Category], users: dict[str, User]) -> None:
    agent, manager = users.get("agent@example.com"), users.get("manager@example.com")
    for code, en, zh, routes in [
        ("stores", "Store service", "门店服务", ["product", "price", "service", "other"]),
        ("online", "Online and delivery", "线上与配送", ["delivery"]),
        ("loyalty", "Billing and loyalty", "账单与会员", ["billing"]),
    ]:
        team = Team.objects.create(code=code, name=en, name_en=en, name_zh_hans=zh, lead=manager)
        team.categories.set([categories[c] for c in routes])
        team.members.set([u for u in (agent, manager) if u is not None])


def seed_complaints(ctx: demo.DemoContext) -> dict[str, int]:
    rng = ctx.rng("complaints")
    categories = _reference()
    _teams(categories, ctx.users)
    agent = ctx.users.get("agent@example.com")
    manager = ctx.users.get("manager@example.com")
    if agent is None or manager is None:
        return {"complaint categories": len(categories)}
    leaves = [c for code, c in categories.items() if code in SUBJECTS]
    customers = list(
        Customer.objects.filter(
            pk__in=ctx.customer_ids, anonymized_at__isnull=True, merged_into__isnull=True
        ).values_list("pk", "preferred_language")
    )
    member1 = ctx.member_customer_ids.get("member1@example.com")
    # Ages skewed to the last weeks (a live queue); filed in date order, so references are too.
    plan = [
        (DAYS * rng.random() ** 1.7, "", *customers[rng.randrange(len(customers))])
        for _ in range(max(6, len(ctx.customer_ids) // 7))
    ]
    if member1:
        plan += [
            (1.5, "member-waiting", member1, "zh-hans"),
            (20, "member-resolved", member1, "zh-hans"),
        ]
    made = 0
    with muted():
        for age_days, role, customer_id, language in sorted(plan, key=lambda p: -p[0]):
            made += _one(ctx, rng, age_days, role, customer_id, language, leaves, agent, manager)
        _pending_approval(agent)
        breaches_sweep(now=ctx.anchor)
        tickets_auto_close(now=ctx.anchor)
    return {"complaint categories": len(categories), "tickets": made}


def _pending_approval(agent) -> None:
    """One goodwill coupon above the agent's limit, waiting for a manager."""
    ticket = Ticket.objects.filter(status=TicketStatus.OPEN).order_by("-created_at").first()
    if ticket is not None:
        compensation_request(
            ticket=ticket,
            actor=agent,
            kind=CompensationKind.COUPON,
            amount=80,
            reason="Second time this happened",
            at=ticket.created_at + dt.timedelta(hours=3),
        )


def _one(ctx, rng, age_days, role, customer_id, language, leaves, agent, manager) -> int:
    opened = ctx.anchor - dt.timedelta(days=age_days, minutes=rng.randrange(0, 600))
    category = leaves[rng.randrange(len(leaves))]
    en, zh = rng.choice(SUBJECTS[category.code])
    customer = Customer.objects.get(pk=customer_id)
    order = (
        Order.objects.filter(customer_id=customer_id, placed_at__lte=opened)
        .order_by("-placed_at")
        .first()
    )
    chinese = language == "zh-hans"
    ticket = ticket_open(
        customer=customer,
        category=category,
        subject=zh if chinese else en,
        description=(f"{zh}。请尽快处理。" if chinese else f"{en}. Please sort it out."),
        channel=rng.choice(
            [
                TicketChannel.PORTAL,
                TicketChannel.PHONE,
                TicketChannel.EMAIL,
                TicketChannel.STORE,
                TicketChannel.API,
            ]
        ),
        priority=rng.choices(list(Priority.values), weights=[2, 10, 4, 1])[0],
        order=order if order and rng.random() < 0.7 else None,
        at=opened,
    )
    step = opened
    if role == "member-waiting":  # member 1's recent ticket: answered, waiting on them
        step += dt.timedelta(hours=2)
        staff_reply(
            ticket=ticket,
            author=agent,
            body="您好，请提供商品照片，方便我们处理。",
            then=TicketStatus.WAITING,
            at=step,
        )
        return 1
    fate = rng.random() if not role else 0.5
    if fate < 0.15 and age_days < 6:
        return 1  # still new, nobody has answered
    ticket_take(ticket=ticket, agent=agent, at=step + dt.timedelta(minutes=10))
    step += dt.timedelta(hours=rng.choice([0.5, 1, 3, 8, 30]))
    reply = (
        "您好，很抱歉，我们已经在跟进了。" if chinese else "Hello, sorry about this; we are on it."
    )
    staff_reply(ticket=ticket, author=agent, body=reply, at=step)
    if fate < 0.45 and age_days < 15:
        return 1  # open, being worked
    if rng.random() < 0.4:
        staff_reply(
            ticket=ticket,
            author=agent,
            body="Internal: checked with the store.",
            internal=True,
            at=step + dt.timedelta(minutes=5),
        )
    if fate < 0.6 and age_days < 20:
        staff_reply(
            ticket=ticket,
            author=agent,
            body=reply,
            then=TicketStatus.WAITING,
            at=step + dt.timedelta(minutes=20),
        )
        return 1
    if rng.random() < 0.3:
        step += dt.timedelta(hours=rng.choice([2, 20, 50]))
        customer_reply(ticket=ticket, body="好的，谢谢。" if chinese else "OK, thanks.", at=step)
    if rng.random() < 0.25:
        kind = rng.choice(
            [CompensationKind.POINTS, CompensationKind.COUPON, CompensationKind.REFUND]
        )
        compensation_request(
            ticket=ticket,
            actor=manager if rng.random() < 0.3 else agent,
            kind=kind,
            points=rng.choice([200, 500, 1000]) if kind == CompensationKind.POINTS else 0,
            amount=rng.choice([10, 20, 50, 80]) if kind != CompensationKind.POINTS else 0,
            reason="Goodwill for the trouble",
            at=step + dt.timedelta(minutes=30),
        )
    step += dt.timedelta(hours=rng.choice([1, 4, 24, 60, 120]))
    ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.RESOLVED, at=step)
    if rng.random() < 0.55:
        ticket_rate(
            ticket=ticket,
            score=rng.choices([5, 4, 3, 2, 1], weights=[5, 4, 2, 1, 1])[0],
            at=step + dt.timedelta(hours=3),
        )
    return 1
