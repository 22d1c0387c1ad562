"""The programme's KPIs, each defined once: what it counts, over which window, for which scope.

A KPI is read *as of a day* ``D`` (business time zone) over a trailing window of ``W`` days ending
with ``D`` (``[D − W + 1, D]``): flows (new members, orders, revenue, points issued…) count inside
the window; stocks (members, outstanding points, liability) are read at the end of ``D``; rates
are defined in ``docs/decisions.md`` ("KPI definitions") and in each KPI's ``help``. A
:class:`Scope` narrows every figure to a store (orders placed there, members enrolled there), a
tier (members holding it now) or a segment (members matching it now).

Figures from apps above analytics (campaign uplift, retention ROI) come from providers that
those apps register in their ``AppConfig.ready()`` (:func:`kpi_provider_register`); their
definitions are declared here, so the dashboard knows every KPI whoever computes it.

Scopes and windows are ``apps.analytics.kpi_scope``'s (re-exported here).

``kpi_values`` returns plain JSON-safe numbers (``int``, ``float`` rounded, or ``None`` when a
rate has no denominator), which is what :class:`~apps.analytics.models.KPISnapshot` stores.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.complaints.enums import CompensationStatus
from apps.complaints.models import Compensation, Ticket
from apps.customers.enums import OrderStatus
from apps.customers.models import Customer
from apps.loyalty.enums import TxKind
from apps.loyalty.models import PointsTransaction, Programme
from apps.surveys.enums import ScoreGroup
from apps.surveys.models import Response

from .kpi_scope import DEFAULT_WINDOW, EVERYONE, WINDOWS, Scope, Window
from .models import AnalyticsSettings

# Units tell the page how to show a value and how to read a change.
COUNT, PERCENT, MONEY, POINTS, RATIO, SCORE = (
    "count",
    "percent",
    "money",
    "points",
    "ratio",
    "score",
)


@dataclass(frozen=True)
class KPI:
    key: str
    label: Promise
    help: Promise
    unit: str
    group: Promise
    better: int = 1  # +1: higher is better, −1: lower is better, 0: neither
    scoped: bool = True  # False: a whole-programme figure (campaign results)
    people: bool = False  # True: a click-through lists the customers behind the number


PROGRAMME, SALES, SERVICE, POINTS_GROUP, RETURN = (
    _("Members"),
    _("Sales"),
    _("Service"),
    _("Points"),
    _("Return on retention"),
)

DEFINITIONS: tuple[KPI, ...] = (
    KPI(
        "members",
        _("Members"),
        _("Members enrolled by the end of the day, not anonymised."),
        COUNT,
        PROGRAMME,
        people=True,
    ),
    KPI(
        "new_members",
        _("New members"),
        _("Members who joined in the window."),
        COUNT,
        PROGRAMME,
        people=True,
    ),
    KPI(
        "active_members",
        _("Active members"),
        _("Members with an order in the last N days (the analytics settings' activity window)."),
        COUNT,
        PROGRAMME,
        people=True,
    ),
    KPI(
        "repeat_rate",
        _("Repeat-purchase rate"),
        _(
            "Of the members who bought in the window, the share with at least two orders by its "
            "end."
        ),
        PERCENT,
        PROGRAMME,
        people=True,
    ),
    KPI(
        "retention_rate",
        _("Retention rate"),
        _(
            "Of the members who bought in the window before this one, the share who bought again "
            "in this one."
        ),
        PERCENT,
        PROGRAMME,
        people=True,
    ),
    KPI(
        "churn_rate",
        _("Churn rate"),
        _(
            "Of the members who bought in the window before this one, the share who did not buy "
            "in this one (100% − retention)."
        ),
        PERCENT,
        PROGRAMME,
        better=-1,
        people=True,
    ),
    KPI(
        "revenue",
        _("Revenue from members"),
        _("Orders by members in the window, less what was refunded."),
        MONEY,
        SALES,
    ),
    KPI(
        "orders",
        _("Orders"),
        _("Members' orders in the window, fully refunded ones left out."),
        COUNT,
        SALES,
    ),
    KPI(
        "aov",
        _("Average order value"),
        _("Revenue from members divided by their orders."),
        MONEY,
        SALES,
    ),
    KPI(
        "frequency",
        _("Purchase frequency"),
        _("Orders per member who bought in the window."),
        RATIO,
        SALES,
    ),
    KPI(
        "nps",
        _("NPS"),
        _(
            "Net Promoter Score of the answers given in the window: % promoters (9–10) − % "
            "detractors (0–6)."
        ),
        SCORE,
        SERVICE,
        people=True,
    ),
    KPI(
        "csat",
        _("CSAT"),
        _("Share of satisfied answers (4–5 of 5) among the CSAT answers given in the window."),
        PERCENT,
        SERVICE,
    ),
    KPI(
        "complaint_rate",
        _("Complaints per 1,000 orders"),
        _("Tickets opened in the window per 1,000 members' orders in it."),
        RATIO,
        SERVICE,
        better=-1,
        people=True,
    ),
    KPI(
        "sla_compliance",
        _("SLA compliance"),
        _(
            "Of the tickets resolved in the window, the share that met both their first-response "
            "and resolution targets."
        ),
        PERCENT,
        SERVICE,
    ),
    KPI(
        "points_issued",
        _("Points issued"),
        _("Points earned, matured, given as compensation or added by staff in the window."),
        POINTS,
        POINTS_GROUP,
        better=0,
    ),
    KPI(
        "points_redeemed",
        _("Points redeemed"),
        _("Points spent on rewards in the window, less cancelled redemptions."),
        POINTS,
        POINTS_GROUP,
    ),
    KPI(
        "points_expired",
        _("Points expired"),
        _("Points that expired in the window."),
        POINTS,
        POINTS_GROUP,
        better=0,
    ),
    KPI(
        "points_outstanding",
        _("Points outstanding"),
        _("Spendable points held by members at the end of the day."),
        POINTS,
        POINTS_GROUP,
        better=0,
    ),
    KPI(
        "liability",
        _("Points liability"),
        _("Outstanding points at the programme's point value."),
        MONEY,
        POINTS_GROUP,
        better=-1,
    ),
    KPI(
        "breakage",
        _("Breakage"),
        _("Of all points redeemed or expired by the end of the day, the share that expired."),
        PERCENT,
        POINTS_GROUP,
        better=0,
    ),
    KPI(
        "campaign_uplift",
        _("Campaign revenue uplift"),
        _(
            "Incremental revenue of the campaigns started in the window, measured against their "
            "holdouts."
        ),
        MONEY,
        RETURN,
        scoped=False,
    ),
    KPI(
        "retention_cost",
        _("Retention spending"),
        _(
            "Rewards redeemed at point value, compensation issued, campaign offers and messages "
            "in the window."
        ),
        MONEY,
        RETURN,
        better=-1,
        scoped=False,
    ),
    KPI(
        "retention_roi",
        _("Retention ROI"),
        _("(Incremental campaign revenue − retention spending) ÷ retention spending."),
        PERCENT,
        RETURN,
        scoped=False,
    ),
)
BY_KEY = {kpi.key: kpi for kpi in DEFINITIONS}


# --- computing -----------------------------------------------------------------------------------

Values = dict[str, int | float | None]
Provider = Callable[[Window, Scope], Values]
_providers: list[Provider] = []


def kpi_provider_register(provider: Provider) -> None:
    """Called from an app's ``ready()``: ``provider(window, scope)`` returns some KPIs' values."""
    if provider not in _providers:
        _providers.append(provider)


def _rate(part, whole, scale: int = 100) -> float | None:
    return round(float(part) * scale / float(whole), 2) if whole else None


def _money(value) -> float:
    return float(Decimal(value or 0).quantize(Decimal("0.01")))


def kpi_values(*, window: Window, scope: Scope = EVERYONE) -> Values:
    """Every KPI for the window and scope (about fifteen aggregate queries)."""
    values: Values = {}
    values.update(_members(window, scope))
    values.update(_sales(window, scope))
    values.update(_service(window, scope))
    values.update(_points(window, scope))
    for provider in _providers:
        values.update(provider(window, scope))
    return {kpi.key: values.get(kpi.key) for kpi in DEFINITIONS}


def members_at(end: dt.datetime, scope: Scope) -> QuerySet[Customer]:
    return scope.members().filter(
        Q(anonymized_at__isnull=True) | Q(anonymized_at__gte=end), joined_at__lt=end
    )


def buyers(window: Window, scope: Scope) -> QuerySet:
    """Customer ids with an order in the window (in scope)."""
    return (
        scope.orders()
        .filter(placed_at__gte=window.start, placed_at__lt=window.end)
        .values("customer_id")
        .distinct()
    )


def _members(window: Window, scope: Scope) -> Values:
    counts = members_at(window.end, scope).aggregate(
        members=Count("pk"), new=Count("pk", filter=Q(joined_at__gte=window.start))
    )
    active_days = AnalyticsSettings.get().active_days
    active = buyers(Window(window.day, active_days), scope).count()
    this = buyers(window, scope)
    repeat = repeaters(window, scope).count()
    buying = this.count()
    base = buyers(window.before(), scope)
    retained = base.filter(customer_id__in=this.values("customer_id")).count()
    base_n = base.count()
    retention = _rate(retained, base_n)
    return {
        "members": counts["members"],
        "new_members": counts["new"],
        "active_members": active,
        "repeat_rate": _rate(repeat, buying),
        "retention_rate": retention,
        "churn_rate": None if retention is None else round(100 - retention, 2),
    }


def repeaters(window: Window, scope: Scope) -> QuerySet[Customer]:
    """The window's buyers with at least two orders by its end."""
    return (
        Customer.objects.filter(pk__in=buyers(window, scope))
        .annotate(
            n=Count(
                "orders",
                filter=Q(orders__placed_at__lt=window.end)
                & ~Q(orders__status=OrderStatus.REFUNDED),
            )
        )
        .filter(n__gte=2)
    )


def _sales(window: Window, scope: Scope) -> Values:
    agg = (
        scope.orders()
        .filter(placed_at__gte=window.start, placed_at__lt=window.end)
        .aggregate(
            n=Count("pk"),
            revenue=Sum(F("total") - F("refunded_amount")),
            buyers=Count("customer_id", distinct=True),
        )
    )
    revenue = Decimal(agg["revenue"] or 0)
    return {
        "orders": agg["n"],
        "revenue": _money(revenue),
        "aov": _money(revenue / agg["n"]) if agg["n"] else None,
        "frequency": round(agg["n"] / agg["buyers"], 2) if agg["buyers"] else None,
    }


def _service(window: Window, scope: Scope) -> Values:
    answers = Response.objects.filter(
        scope.customer_filter("customer"),
        submitted_at__gte=window.start,
        submitted_at__lt=window.end,
    ).aggregate(
        nps_n=Count("pk", filter=Q(nps_score__isnull=False)),
        promoters=Count("pk", filter=Q(score_group=ScoreGroup.PROMOTER)),
        detractors=Count("pk", filter=Q(score_group=ScoreGroup.DETRACTOR)),
        csat_n=Count("pk", filter=Q(csat_score__isnull=False)),
        satisfied=Count("pk", filter=Q(csat_score__gte=4)),
    )
    nps = None
    if answers["nps_n"]:
        nps = round(100 * (answers["promoters"] - answers["detractors"]) / answers["nps_n"], 1)
    tickets = Ticket.objects.filter(scope.customer_filter("customer"))
    opened = tickets.filter(created_at__gte=window.start, created_at__lt=window.end).count()
    resolved = tickets.filter(resolved_at__gte=window.start, resolved_at__lt=window.end).aggregate(
        n=Count("pk"),
        met=Count(
            "pk",
            filter=Q(first_response_breached_at__isnull=True, resolution_breached_at__isnull=True),
        ),
    )
    orders = scope.orders().filter(placed_at__gte=window.start, placed_at__lt=window.end).count()
    return {
        "nps": nps,
        "csat": _rate(answers["satisfied"], answers["csat_n"]),
        "complaint_rate": _rate(opened, orders, scale=1000),
        "sla_compliance": _rate(resolved["met"], resolved["n"]),
    }


ISSUED = Q(kind__in=[TxKind.EARN, TxKind.MATURE, TxKind.COMPENSATE]) | Q(
    kind=TxKind.ADJUST, points__gt=0
)


def _points(window: Window, scope: Scope) -> Values:
    ledger = PointsTransaction.objects.filter(scope.customer_filter("account__customer"))
    inside = Q(created_at__gte=window.start, created_at__lt=window.end)
    agg = ledger.filter(created_at__lt=window.end).aggregate(
        issued=Sum("points", filter=ISSUED & inside),
        redeemed=Sum("points", filter=Q(kind__in=[TxKind.REDEEM, TxKind.REVERSE]) & inside),
        expired=Sum("points", filter=Q(kind=TxKind.EXPIRE) & inside),
        outstanding=Sum("points"),
        redeemed_ever=Sum("points", filter=Q(kind__in=[TxKind.REDEEM, TxKind.REVERSE])),
        expired_ever=Sum("points", filter=Q(kind=TxKind.EXPIRE)),
    )
    outstanding = agg["outstanding"] or 0
    expired_ever = -(agg["expired_ever"] or 0)
    closed = -(agg["redeemed_ever"] or 0) + expired_ever
    return {
        "points_issued": agg["issued"] or 0,
        "points_redeemed": -(agg["redeemed"] or 0),
        "points_expired": -(agg["expired"] or 0),
        "points_outstanding": outstanding,
        "liability": _money(Decimal(outstanding) * Programme.get().point_value),
        "breakage": _rate(expired_ever, closed),
    }


def retention_spending(window: Window) -> Decimal:
    """What the programme spent on keeping members in the window, before campaigns: rewards
    redeemed (at the point value) and compensation issued. Campaigns add their own costs."""
    redeemed = PointsTransaction.objects.filter(
        kind__in=[TxKind.REDEEM, TxKind.REVERSE],
        created_at__gte=window.start,
        created_at__lt=window.end,
    ).aggregate(p=Sum("points"))["p"]
    compensation = Compensation.objects.filter(
        status=CompensationStatus.ISSUED,
        decided_at__gte=window.start,
        decided_at__lt=window.end,
    ).aggregate(v=Sum("value"))["v"]
    return Decimal(-(redeemed or 0)) * Programme.get().point_value + Decimal(compensation or 0)


# --- the customers behind a number ---------------------------------------------------------------


def kpi_customers(key: str, *, window: Window, scope: Scope = EVERYONE) -> QuerySet[Customer]:
    """The customers a KPI counts (for a click-through); empty for KPIs that count no people."""
    kpi = BY_KEY.get(key)
    if kpi is None or not kpi.people:
        return Customer.objects.none()
    if key == "members":
        return members_at(window.end, scope)
    if key == "new_members":
        return members_at(window.end, scope).filter(joined_at__gte=window.start)
    if key == "active_members":
        active = Window(window.day, AnalyticsSettings.get().active_days)
        return Customer.objects.filter(pk__in=buyers(active, scope))
    if key == "repeat_rate":
        return repeaters(window, scope)
    base = buyers(window.before(), scope)
    this = buyers(window, scope)
    if key == "retention_rate":
        return Customer.objects.filter(pk__in=base).filter(pk__in=this)
    if key == "churn_rate":
        return Customer.objects.filter(pk__in=base).exclude(pk__in=this)
    if key == "nps":  # the detractors: whom to call back
        return Customer.objects.filter(
            pk__in=Response.objects.filter(
                scope.customer_filter("customer"),
                submitted_at__gte=window.start,
                submitted_at__lt=window.end,
                score_group=ScoreGroup.DETRACTOR,
            ).values("customer_id"),
        )
    # complaint_rate: who complained in the window
    return Customer.objects.filter(
        pk__in=Ticket.objects.filter(
            scope.customer_filter("customer"),
            created_at__gte=window.start,
            created_at__lt=window.end,
        ).values("customer_id")
    )


# Scopes and windows are named with the KPIs by their callers: re-exported from ``kpi_scope``.
__all__ = ["DEFAULT_WINDOW", "EVERYONE", "WINDOWS", "Scope", "Window"]
