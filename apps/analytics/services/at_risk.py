"""The weekly at-risk list: customers whose churn risk rose into the high band lately and whose
predicted CLV is in the top share, each with a suggested action; assigning one to an agent logs
a task on the customer's 360 page.
"""

import datetime as dt
import math

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.customers.enums import InteractionKind
from apps.customers.services import interaction_log

from ..enums import ChurnBand, Reason, SuggestedAction
from ..models import AnalyticsSettings, AtRiskEntry, CustomerMetrics

# Reasons that call for a person, not an automated message.
PERSONAL = {Reason.BREACHED_TICKET, Reason.OPEN_TICKET, Reason.DETRACTOR}
NUDGE_P_ALIVE = 0.3  # still likely a customer: a coupon may be enough


def week_of(day: dt.date) -> dt.date:
    """That week's Monday."""
    return day - dt.timedelta(days=day.weekday())


def clv_threshold(share: float) -> float | None:
    """The lowest predicted CLV inside the top ``share`` of the customers at high risk.

    Taken among those at high risk, not among everyone: predicted CLV already discounts by the
    chance of leaving, so against the whole base a customer at high risk is almost never in the
    top share and the list would be empty by construction."""
    values = CustomerMetrics.objects.filter(predicted_clv__isnull=False, churn_band=ChurnBand.HIGH)
    n = values.count()
    if not n:
        return None
    k = max(1, math.ceil(n * share))
    return values.order_by("-predicted_clv").values_list("predicted_clv", flat=True)[k - 1]


def action_suggest(metrics: CustomerMetrics, *, top_clv) -> str:
    codes = {r.get("code") for r in metrics.reasons or []}
    if codes & PERSONAL or (top_clv is not None and metrics.predicted_clv >= top_clv):
        return SuggestedAction.CALL
    if (metrics.p_alive or 0) >= NUDGE_P_ALIVE:
        return SuggestedAction.COUPON
    return SuggestedAction.WINBACK


@transaction.atomic
def at_risk_build(*, week: dt.date | None = None) -> int:
    """Add this week's entries: at high risk since less than a week, and in the top share by
    predicted CLV of everyone at high risk. Idempotent: a second run adds only newcomers.
    Returns how many customers are on the week's list."""
    week = week_of(week or timezone.localdate())
    settings = AnalyticsSettings.get()
    threshold = clv_threshold(float(settings.at_risk_top_share))
    if threshold is None:
        return 0
    # The top tenth of the list's CLV earns a call whatever the reasons.
    top_clv = clv_threshold(float(settings.at_risk_top_share) / 3)
    candidates = (
        CustomerMetrics.objects.filter(
            churn_band=ChurnBand.HIGH,
            band_since__gt=week - dt.timedelta(days=7),
            predicted_clv__gte=threshold,
            customer__merged_into__isnull=True,
            customer__anonymized_at__isnull=True,
        )
        .exclude(customer__at_risk_entries__week=week)
        .order_by("customer_id")
    )
    AtRiskEntry.objects.bulk_create(
        [
            AtRiskEntry(
                week=week,
                customer_id=m.customer_id,
                churn_risk=m.churn_risk,
                predicted_clv=m.predicted_clv,
                health_score=m.health_score or 0,
                reasons=m.reasons,
                action=action_suggest(m, top_clv=top_clv),
            )
            for m in candidates
        ],
        ignore_conflicts=True,
    )
    return AtRiskEntry.objects.filter(week=week).count()


@transaction.atomic
def at_risk_assign(*, entry: AtRiskEntry, assignee: User, actor: User) -> AtRiskEntry:
    """Give one at-risk customer to an agent: the 360 page shows the task."""
    if not assignee.is_active or not assignee.is_staff:
        raise ValidationFailed(_("Only active staff can be given an at-risk customer."))
    entry = AtRiskEntry.objects.select_for_update().get(pk=entry.pk)
    entry.assigned_to, entry.assigned_at = assignee, timezone.now()
    entry.save(update_fields=["assigned_to", "assigned_at"])
    interaction_log(
        customer=entry.customer,
        kind=InteractionKind.TASK,
        summary=_("At risk: %(action)s — assigned to %(name)s")
        % {"action": entry.get_action_display().lower(), "name": assignee.display_name},
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="analytics.at_risk_assign",
        target=entry.customer,
        summary=f"{entry.week}: {assignee}",
        after={"week": entry.week.isoformat(), "assigned_to": assignee.pk},
    )
    return entry
