from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    BROADCAST = "broadcast", _("Broadcast")
    TRIGGERED = "triggered", _("Journey")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Purpose(models.TextChoices):
    """What consent a campaign needs: marketing (offers, care messages) or service (news about
    the member's own account, such as points about to expire)."""

    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service")


class Trigger(models.TextChoices):
    WELCOME = "welcome", _("Welcome (joined)")
    BIRTHDAY = "birthday", _("Birthday")
    ANNIVERSARY = "anniversary", _("Membership anniversary")
    INACTIVE = "inactive_n_days", _("Inactive for N days (win-back)")
    POINTS_EXPIRING = "points_expiring", _("Points expiring")
    TIER_CHANGED = "tier_changed", _("Tier changed")
    AFTER_PURCHASE = "after_purchase", _("After a purchase")
    AFTER_TICKET_RESOLVED = "after_ticket_resolved", _("After a complaint is resolved")


# Journeys a daily run finds (by date); the others follow domain events.
DAILY_TRIGGERS = (Trigger.BIRTHDAY, Trigger.ANNIVERSARY, Trigger.INACTIVE)


class OfferKind(models.TextChoices):
    NONE = "none", _("No offer")
    COUPON = "coupon", _("A personal coupon")
    BONUS_POINTS = "bonus_points", _("Bonus points")
    MULTIPLIER = "multiplier", _("Points multiplier for N days")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")
    HOLDOUT = "holdout", _("Holdout")


# Messages that reach (or will reach) the member: what the frequency cap counts.
CONTACTING = (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED)
REACHED = (MessageStatus.SENT, MessageStatus.DELIVERED)


class Suppression(models.TextChoices):
    NO_CONSENT = "no_consent", _("No consent for the channel")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    INVALID_ADDRESS = "invalid_address", _("No valid address")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    BUDGET = "budget", _("Budget exhausted")
    ANONYMISED = "anonymised", _("Anonymised customer")
    NOT_IN_SEGMENT = "not_in_segment", _("No longer in the segment")
    OUTDATED = "outdated", _("No longer true when it was due")
