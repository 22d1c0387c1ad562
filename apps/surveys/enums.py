from django.db import models
from django.utils.translation import gettext_lazy as _


class SurveyKind(models.TextChoices):
    NPS = "nps", _("NPS")
    CSAT = "csat", _("CSAT")
    CES = "ces", _("CES")
    CUSTOM = "custom", _("Custom")


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


class SurveyTrigger(models.TextChoices):
    MANUAL = "manual", _("By hand")
    AFTER_PURCHASE = "after_purchase", _("After a purchase")
    AFTER_TICKET_RESOLVED = "after_ticket_resolved", _("After a resolved ticket")


class DisplayMode(models.TextChoices):
    ONE_PER_SCREEN = "one_per_screen", _("One question per screen")
    ONE_PAGE = "one_page", _("All questions on one page")


class QuestionType(models.TextChoices):
    NPS = "nps_0_10", _("Likelihood to recommend (0–10)")
    RATING = "rating_1_5", _("Rating (1–5)")
    SINGLE_CHOICE = "single_choice", _("Single choice")
    MULTI_CHOICE = "multi_choice", _("Multiple choice")
    TEXT = "text", _("Text")
    YES_NO = "yes_no", _("Yes / no")


# Types whose answers are a number (the scale), and their ranges.
SCALES: dict[str, tuple[int, int]] = {
    QuestionType.NPS: (0, 10),
    QuestionType.RATING: (1, 5),
}
CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE})


class Measure(models.TextChoices):
    """Which headline figure a question feeds (one question per measure and survey)."""

    NONE = "", _("None")
    NPS = "nps", _("NPS")
    CSAT = "csat", _("CSAT")
    CES = "ces", _("CES")


# The question type each measure reads.
MEASURE_TYPES: dict[str, str] = {
    Measure.NPS: QuestionType.NPS,
    Measure.CSAT: QuestionType.RATING,
    Measure.CES: QuestionType.RATING,
}


class ScoreGroup(models.TextChoices):
    PROMOTER = "promoter", _("Promoters")
    PASSIVE = "passive", _("Passives")
    DETRACTOR = "detractor", _("Detractors")


def score_group(score: int | None) -> str:
    """NPS groups: 9–10 promoters, 7–8 passives, 0–6 detractors ("" without a score)."""
    if score is None:
        return ""
    if score >= 9:
        return ScoreGroup.PROMOTER
    if score >= 7:
        return ScoreGroup.PASSIVE
    return ScoreGroup.DETRACTOR


class InvitationChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PORTAL = "portal", _("Portal inbox")
    RECEIPT = "receipt", _("Receipt link")


class InvitationStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")


class SkipReason(models.TextChoices):
    NO_CONSENT = "no_consent", _("No consent to survey invitations")
    COOLDOWN = "cooldown", _("Asked too recently")
    ANONYMISED = "anonymised", _("Customer anonymised")
    NOT_LIVE = "not_live", _("Survey not live")
    SAMPLED_OUT = "sampled_out", _("Not in the sample")
    NO_CHANNEL = "no_channel", _("No channel to reach them")


class EmailStatus(models.TextChoices):
    NONE = "", _("No e-mail")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")


class Funnel(models.TextChoices):
    SENT = "sent", _("Sent")
    OPENED = "opened", _("Opened")
    STARTED = "started", _("Started")
    COMPLETED = "completed", _("Completed")
