from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNDISCLOSED = "undisclosed", _("Prefer not to say")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PORTAL = "portal", _("Portal inbox")


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SURVEYS = "surveys", _("Surveys")
    SERVICE = "service", _("Service")


class Source(models.TextChoices):
    STORE = "store", _("In store")
    PORTAL = "portal", _("Portal sign-up")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Staff")
    REFERRAL = "referral", _("Referral")
    CAMPAIGN = "campaign", _("Campaign")


class StoreKind(models.TextChoices):
    OFFLINE = "offline", _("Shop")
    ONLINE = "online", _("Online")
    PARTNER = "partner", _("Partner")


class OrderChannel(models.TextChoices):
    STORE = "store", _("In store")
    WEB = "web", _("Web shop")
    APP = "app", _("App")
    PHONE = "phone", _("Phone")
    MARKETPLACE = "marketplace", _("Marketplace")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("E-mail")
    VISIT = "visit", _("Visit")
    CHAT = "chat", _("Chat")
    NOTE = "note", _("Note")
    TASK = "task", _("Task")


# The purposes a member may switch on and off themselves, on every channel (the preference
# centre). "Service" messages (receipts, password resets, replies to a complaint) need no
# consent and are not switchable by the member.
MEMBER_SWITCHABLE_PURPOSES = (ConsentPurpose.MARKETING, ConsentPurpose.SURVEYS)


# The tag the portal's enrolment puts on a new membership whose verified e-mail already belongs
# to another one, for staff to review (and merge) by hand.
REVIEW_TAG = "portal-review"
