"""A customer's history of every kind the 360° page shows, grown in steps: orders with lines,
points ledger rows (through the loyalty services, so the hash chain holds), redemptions,
complaints, survey responses, campaign messages, calls and notes, consent changes, tags, tier
changes. The query-budget test grows one customer from a tiny history to a large one; the
benchmark gives one member a long history with it."""

import datetime as dt
from collections import Counter
from decimal import Decimal

from django.utils import timezone

from apps.campaigns.enums import MessageStatus
from apps.campaigns.models import Campaign, Message
from apps.complaints.models import Ticket
from apps.customers.models import ConsentRecord, Interaction, Order, OrderLine, Tag
from apps.loyalty.models import LoyaltyAccount, Reward, Tier, TierHistory
from apps.loyalty.services import bonus_award, reward_redeem
from apps.surveys.models import Survey
from apps.surveys.services.responses import response_submit
from tests.complaints.factories import CategoryFactory
from tests.surveys.factories import InvitationFactory, nps_survey, questions

KINDS = (
    "orders",
    "ledger rows",
    "redemptions",
    "tickets",
    "survey responses",
    "campaign messages",
    "interactions",
    "consent changes",
    "tags",
    "tier changes",
)


def _survey() -> Survey:
    return Survey.objects.filter(slug="history-visit").first() or nps_survey(
        slug="history-visit", title_en="Store visit"
    )


def _reward() -> Reward:
    reward, _created = Reward.objects.get_or_create(
        slug="history-mug",
        defaults={"name_en": "Mug", "name_zh_hans": "杯子", "kind": "donation", "cost_points": 10},
    )
    return reward


def _campaign() -> Campaign:
    campaign, _created = Campaign.objects.get_or_create(
        name="History campaign", defaults={"kind": "broadcast", "status": "completed"}
    )
    return campaign


def _tiers() -> list[Tier]:
    tiers = list(Tier.objects.order_by("rank")[:2])
    if len(tiers) == 2:
        return tiers
    return [
        Tier.objects.create(slug="history-member", name="Member", rank=0),
        Tier.objects.create(slug="history-silver", name="Silver", rank=1, threshold=Decimal(1000)),
    ]


def grow_history(customer, *, n: int, start: int, staff, store, tiers: bool = True) -> None:
    """Add ``n`` rows of every kind to ``customer``'s history (``start`` keeps keys unique
    between calls): n orders of two lines, n earning rows, n // 2 + 1 redemptions (each a
    ledger row too), n complaints, n survey responses, n campaign messages, n calls and n
    notes, n consent changes, n tags and (with ``tiers``; two tiers are made when there are
    none) n tier changes."""
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            store=store,
            customer=customer,
            external_id=f"H-{customer.pk}-{start + i}",
            placed_at=now - dt.timedelta(hours=start + i),
            total=Decimal("10.00"),
        )
        for i in range(n)
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=o, sku=f"S{j}", unit_price=Decimal("5.00"), quantity=Decimal(1))
        for o in orders
        for j in range(2)
    )
    for i in range(n):
        bonus_award(
            customer=customer, points=50, key=f"history:{customer.pk}:{start + i}", reason="Gift"
        )
    reward = _reward()
    for i in range(n // 2 + 1):
        reward_redeem(
            customer=customer, reward=reward, key=f"history-redeem:{customer.pk}:{start + i}"
        )
    category = CategoryFactory(code="history")
    Ticket.objects.bulk_create(
        Ticket(
            reference=f"H-{customer.pk}-{start + i}",
            customer=customer,
            channel="email",
            category=category,
            subject=f"Broken cup {start + i}",
            description="The cup arrived broken.",
            created_at=now - dt.timedelta(hours=start + i),
        )
        for i in range(n)
    )
    survey = _survey()
    q = questions(survey)
    for i in range(n):
        invitation = InvitationFactory(survey=survey, customer=customer)
        answers = {str(q[0].pk): str(i % 11), str(q[1].pk): "3", str(q[3].pk): "returns"}
        if i % 11 <= 6:
            answers[str(q[4].pk)] = "Too slow"
        response_submit(invitation=invitation, answers=answers)
    campaign = _campaign()
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            step=f"send-{start + i}",
            customer=customer,
            channel="email",
            status=MessageStatus.DELIVERED,
            sent_at=now - dt.timedelta(hours=start + i),
        )
        for i in range(n)
    )
    Interaction.objects.bulk_create(
        Interaction(customer=customer, kind=kind, summary=f"{kind} {start + i}", author=staff)
        for i in range(n)
        for kind in ("call", "note")
    )
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            customer=customer,
            channel="email",
            purpose="marketing",
            granted=bool(i % 2),
            source="staff",
            actor=staff,
        )
        for i in range(n)
    )
    names = [f"history-{start + i}" for i in range(n)]
    Tag.objects.bulk_create((Tag(name=name) for name in names), ignore_conflicts=True)
    customer.tags.add(*Tag.objects.filter(name__in=names))
    if not tiers:
        return
    low, high = _tiers()
    account = LoyaltyAccount.objects.get(customer=customer)
    TierHistory.objects.bulk_create(
        TierHistory(
            account=account,
            from_tier=low if i % 2 else high,
            to_tier=high if i % 2 else low,
            reason="evaluation",
        )
        for i in range(n)
    )


def history_size(customer) -> Counter:
    """How much history ``customer`` has, by kind (for the benchmark's row)."""
    account = LoyaltyAccount.objects.filter(customer=customer).first()
    return Counter(
        {
            "orders": customer.orders.count(),
            "ledger rows": account.transactions.count() if account else 0,
            "redemptions": account.redemptions.count() if account else 0,
            "tickets": Ticket.objects.filter(customer=customer).count(),
            "survey responses": customer.survey_responses.count(),
            "campaign messages": customer.campaign_messages.count(),
            "interactions": customer.interactions.count(),
            "consent changes": customer.consents.count(),
            "tags": customer.tags.count(),
            "tier changes": account.tier_history.count() if account else 0,
        }
    )
