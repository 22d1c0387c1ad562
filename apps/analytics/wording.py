"""Stored reasons (a code and its numbers) in the reader's language."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .enums import Reason


def reason_text(reason: dict) -> str:
    code = reason.get("code")
    n = reason.get("days", 0)
    if code == Reason.OVERDUE:
        return ngettext(
            "no purchase for %(days)s day, usually every %(usual)s",
            "no purchase for %(days)s days, usually every %(usual)s",
            n,
        ) % {"days": n, "usual": reason.get("usual", 0)}
    if code == Reason.NO_REPEAT:
        return ngettext(
            "bought once, %(days)s day ago, and never came back",
            "bought once, %(days)s days ago, and never came back",
            n,
        ) % {"days": n}
    if code == Reason.NO_ORDERS:
        return _("has never bought anything")
    if code == Reason.LOW_P_ALIVE:
        return _("only a %(percent)s%% chance they are still a customer") % {
            "percent": reason.get("percent", 0)
        }
    if code == Reason.LIKELY_TO_LAPSE:
        return _("%(percent)s%% chance of no purchase in the next %(days)s days") % {
            "percent": reason.get("percent", 0),
            "days": reason.get("days", 90),
        }
    if code == Reason.BREACHED_TICKET:
        count = reason.get("count", 1)
        return ngettext(
            "%(count)s open complaint past its SLA",
            "%(count)s open complaints past their SLA",
            count,
        ) % {"count": count}
    if code == Reason.OPEN_TICKET:
        count = reason.get("count", 1)
        return ngettext("%(count)s open complaint", "%(count)s open complaints", count) % {
            "count": count
        }
    if code == Reason.DETRACTOR:
        return _("detractor in the last NPS survey (scored %(score)s)") % {
            "score": reason.get("score", "–")
        }
    if code == Reason.POINTS_EXPIRING:
        points = reason.get("points", 0)
        return ngettext(
            "%(points)s point expiring unredeemed within %(days)s days",
            "%(points)s points expiring unredeemed within %(days)s days",
            points,
        ) % {"points": points, "days": reason.get("days", 30)}
    return str(Reason(code).label) if code in Reason.values else str(code)


def reasons_text(reasons: list[dict]) -> list[str]:
    return [reason_text(r) for r in reasons or []]
