from django.db import models
from django.utils.translation import gettext_lazy as _


class RFMSegment(models.TextChoices):
    """The common 11-segment RFM map (``stats.rfm.RFM_GRID`` places each R × FM cell)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New customers")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class ChurnBand(models.TextChoices):
    LOW = "low", _("Low risk")
    MEDIUM = "medium", _("Medium risk")
    HIGH = "high", _("High risk")


class SuggestedAction(models.TextChoices):
    CALL = "call", _("Call them")
    COUPON = "coupon", _("Send a coupon")
    WINBACK = "winback", _("Win-back journey")


class Reason(models.TextChoices):
    """Why a health score is low; the parameters are kept beside the code and worded on display."""

    OVERDUE = "overdue", _("Overdue for a purchase")
    NO_REPEAT = "no_repeat", _("Never came back after the first purchase")
    NO_ORDERS = "no_orders", _("Never bought")
    LIKELY_TO_LAPSE = "likely_to_lapse", _("Likely to stop buying")
    LOW_P_ALIVE = "low_p_alive", _("Unlikely to still be a customer")
    BREACHED_TICKET = "breached_ticket", _("Open complaint past its SLA")
    OPEN_TICKET = "open_ticket", _("Open complaint")
    DETRACTOR = "detractor", _("Detractor in the last NPS survey")
    POINTS_EXPIRING = "points_expiring", _("Points expiring unredeemed")


class ReportKind(models.TextChoices):
    """The reports a subscription can receive (``report_content`` builds each)."""

    KPI = "kpi", _("KPI summary")
    AT_RISK = "at_risk", _("At-risk customers")
    COMPLAINTS = "complaints", _("Complaints report")


class ReportFrequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    PARTIAL = "partial", _("Some recipients failed")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Nothing to report")
