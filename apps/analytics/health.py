"""The health score (0–100) and its top reasons, from the churn risk and the other apps' facts.

The score starts from the chance the customer buys again (100 × (1 − churn risk)) and loses a
fixed number of points for each fact a support agent would worry about. Reasons are stored as a
code and the numbers that explain it (``{"code": "overdue", "days": 143, "usual": 30}``); the
delivery layer words them in the reader's language (``analytics.wording``), so a stored reason
never freezes one language.
"""

from dataclasses import dataclass

from .enums import Reason

# Points off the score per fact, and the order reasons are listed in (heaviest first).
PENALTY = {
    Reason.BREACHED_TICKET: 20,
    Reason.DETRACTOR: 15,
    Reason.OPEN_TICKET: 5,
    Reason.POINTS_EXPIRING: 5,
}
TOP_REASONS = 3
EXPIRING_DAYS = 30
OVERDUE_FACTOR = 1.5  # "overdue" when the gap since the last purchase is this many usual gaps
NO_REPEAT_DAYS = 60
LAPSE_RISK = 0.4  # from the medium band up, a customer at risk always has a reason shown
PURCHASE_REASONS = {Reason.OVERDUE, Reason.NO_REPEAT, Reason.NO_ORDERS, Reason.LOW_P_ALIVE}


@dataclass(frozen=True)
class Facts:
    """What the other apps know about one customer at the as-of date."""

    open_tickets: int = 0
    breached_tickets: int = 0
    nps_score: int | None = None
    nps_group: str = ""
    points_expiring: int = 0


def _weighted_reasons(
    *,
    days_since_last: int | None,
    frequency: int,
    span_days: int,
    p_alive: float | None,
    facts: Facts,
) -> list[tuple[float, dict]]:
    reasons: list[tuple[float, dict]] = []
    if days_since_last is None:
        reasons.append((50, {"code": Reason.NO_ORDERS}))
    elif frequency > 0:
        usual = span_days / frequency
        if days_since_last > OVERDUE_FACTOR * max(usual, 1):
            # Weight grows with how many usual gaps have passed.
            weight = 10 + min(days_since_last / max(usual, 1), 10) * 4
            reasons.append(
                (weight, {"code": Reason.OVERDUE, "days": days_since_last, "usual": round(usual)})
            )
    elif days_since_last > NO_REPEAT_DAYS:
        reasons.append((12, {"code": Reason.NO_REPEAT, "days": days_since_last}))
    if p_alive is not None and p_alive < 0.5:
        reasons.append(
            ((1 - p_alive) * 20, {"code": Reason.LOW_P_ALIVE, "percent": round(p_alive * 100)})
        )
    if facts.breached_tickets:
        reasons.append(
            (
                PENALTY[Reason.BREACHED_TICKET],
                {"code": Reason.BREACHED_TICKET, "count": facts.breached_tickets},
            )
        )
    elif facts.open_tickets:
        reasons.append(
            (PENALTY[Reason.OPEN_TICKET], {"code": Reason.OPEN_TICKET, "count": facts.open_tickets})
        )
    if facts.nps_group == "detractor":
        reasons.append(
            (PENALTY[Reason.DETRACTOR], {"code": Reason.DETRACTOR, "score": facts.nps_score})
        )
    if facts.points_expiring:
        reasons.append(
            (
                PENALTY[Reason.POINTS_EXPIRING],
                {
                    "code": Reason.POINTS_EXPIRING,
                    "points": facts.points_expiring,
                    "days": EXPIRING_DAYS,
                },
            )
        )
    return reasons


def health_assess(
    *,
    churn_risk: float | None,
    days_since_last: int | None,
    frequency: int,
    span_days: int,
    p_alive: float | None,
    facts: Facts,
    horizon_days: int = 90,
) -> tuple[int | None, list[dict]]:
    """(health score, top reasons). No score for a customer who never bought: there is no
    purchase behaviour to judge, only the reason saying so."""
    reasons = _weighted_reasons(
        days_since_last=days_since_last,
        frequency=frequency,
        span_days=span_days,
        p_alive=p_alive,
        facts=facts,
    )
    if (
        churn_risk is not None
        and churn_risk >= LAPSE_RISK
        and not any(r["code"] in PURCHASE_REASONS for _, r in reasons)
    ):
        # The model sees a pattern no single rule names: say what it sees, in its own terms.
        reasons.append(
            (
                churn_risk * 20,
                {
                    "code": Reason.LIKELY_TO_LAPSE,
                    "percent": round(churn_risk * 100),
                    "days": horizon_days,
                },
            )
        )
    reasons.sort(key=lambda pair: -pair[0])
    top = [reason for _, reason in reasons[:TOP_REASONS]]
    if churn_risk is None:
        return None, top
    score = 100 * (1 - churn_risk)
    for _, reason in reasons:
        score -= PENALTY.get(reason["code"], 0)
    return max(0, min(100, round(score))), top
