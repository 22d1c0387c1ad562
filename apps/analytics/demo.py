"""Demo customer value for ``seed_demo``: metrics as of yesterday (fitted on the demo's year
of orders, so segments, the churn model and the model page show real figures), a handful of
segments a marketer would build first (in both languages), one frozen, and this week's
at-risk list with two customers already given to the support agent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.customers import demo

from .exceptions import NotEnoughHistory
from .kpis import EVERYONE
from .models import AtRiskEntry
from .services.at_risk import at_risk_assign, at_risk_build
from .services.kpi import kpi_snapshot_range, kpi_snapshot_take
from .services.metrics import metrics_recompute
from .services.segments import segment_freeze, segment_save

SEGMENTS = [
    (
        "High value, about to leave",
        "高价值·即将流失",
        "Top customers by predicted value whose churn risk is high: call them this week.",
        "预测价值高但流失风险高的顾客：本周电话回访。",
        {
            "all": [
                {"field": "metrics.churn_band", "op": "in", "value": ["high", "medium"]},
                {"field": "metrics.m_score", "op": "gte", "value": 4},
            ]
        },
    ),
    (
        "Champions and loyal",
        "冠军与忠诚顾客",
        "",
        "",
        {"field": "metrics.rfm_segment", "op": "in", "value": ["champions", "loyal"]},
    ),
    (
        "Lapsed 60+ days, e-mail allowed",
        "60天未购·可发邮件",
        "Win-back audience: no order for 60 days and marketing e-mail consent.",
        "召回对象：60天未下单且同意营销邮件。",
        {
            "all": [
                {"field": "orders.days_since_last", "op": "gte", "value": 60},
                {"field": "consent.granted", "op": "has", "value": "email:marketing"},
            ]
        },
    ),
    (
        "Unhappy: detractors or open complaints",
        "不满意：贬损者或有未结投诉",
        "",
        "",
        {
            "any": [
                {"field": "surveys.last_nps_group", "op": "eq", "value": "detractor"},
                {"field": "complaints.open_ticket", "op": "eq", "value": True},
            ]
        },
    ),
    (
        "Points expiring within 30 days",
        "30天内积分到期",
        "",
        "",
        {"field": "loyalty.points_expiring", "op": "gte", "value": 100, "days": 30},
    ),
]


def seed_analytics(ctx: demo.DemoContext) -> dict[str, int]:
    yesterday = ctx.anchor.date() - dt.timedelta(days=1)
    try:
        done = metrics_recompute(as_of=yesterday)
    except NotEnoughHistory:
        return {}
    marketer = ctx.users.get("marketer@example.com")
    segments = [
        segment_save(
            actor=marketer,
            rules=rules,
            names={"name_en": en, "name_zh_hans": zh},
            descriptions={"description_en": d_en, "description_zh_hans": d_zh},
        )
        for en, zh, d_en, d_zh, rules in SEGMENTS
    ]
    segment_freeze(segment=segments[2], actor=marketer, note="Win-back, December")
    listed = at_risk_build(week=ctx.anchor.date())
    agent, manager = ctx.users.get("agent@example.com"), ctx.users.get("manager@example.com")
    if agent is not None and manager is not None:
        for entry in AtRiskEntry.objects.order_by("-predicted_clv", "pk")[:2]:
            at_risk_assign(entry=entry, assignee=agent, actor=manager)
    return {"customer metrics": done.customers, "segments": len(segments), "at risk": listed}


def seed_kpis(ctx: demo.DemoContext) -> dict[str, int]:
    """The programme's daily KPI snapshots for the last 90 days and the day a year before
    yesterday, as the nightly job would have taken them (stores and tiers are left to it: their
    figures are computed from the orders when asked for)."""
    yesterday = timezone.localdate(ctx.anchor) - dt.timedelta(days=1)
    if yesterday >= timezone.localdate():  # an anchor in the future: nothing has ended yet
        return {}
    run = kpi_snapshot_range(
        first=yesterday - dt.timedelta(days=89), last=yesterday, scopes=[EVERYONE]
    )
    year_ago = kpi_snapshot_take(day=yesterday - dt.timedelta(days=365), scopes=[EVERYONE])
    return {"KPI snapshots": run.written + year_ago.written}
