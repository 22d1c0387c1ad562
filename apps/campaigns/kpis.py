"""The campaigns' part of the KPI dashboard (``apps.analytics.kpis``, registered in ``ready()``):
campaign revenue uplift, retention spending and retention ROI over a window. They are
whole-programme figures (a campaign's holdout is not drawn per store or tier), so a narrower
scope leaves them out."""

from decimal import Decimal

from apps.analytics.kpis import Scope, Values, Window, retention_spending

from .results import campaigns_return


def campaign_kpis(window: Window, scope: Scope) -> Values:
    if not scope.is_all:
        return {}
    back = campaigns_return(start=window.start, end=window.end)
    spending = retention_spending(window) + back.costs
    roi = None
    if spending:
        roi = float(
            ((back.incremental_revenue - spending) * 100 / spending).quantize(Decimal("0.01"))
        )
    return {
        "campaign_uplift": float(back.incremental_revenue),
        "retention_cost": float(spending.quantize(Decimal("0.01"))),
        "retention_roi": roi,
    }
