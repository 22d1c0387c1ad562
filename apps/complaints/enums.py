from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING = "waiting_on_customer", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Statuses whose clocks run (the resolution clock pauses while waiting on the customer).
ACTIVE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING)
RUNNING_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)
DONE_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class TicketChannel(models.TextChoices):
    PORTAL = "portal", _("Member portal")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    STORE = "store", _("In store")
    API = "api", _("Till or app")
    SURVEY = "survey", _("Survey follow-up")


class MessageKind(models.TextChoices):
    PUBLIC = "public", _("Reply")
    INTERNAL = "internal", _("Internal note")


class AuthorKind(models.TextChoices):
    STAFF = "agent", _("Staff")
    CUSTOMER = "customer", _("Customer")
    SYSTEM = "system", _("System")


class Clock(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class Notify(models.TextChoices):
    TEAM_LEAD = "team_lead", _("Team lead")
    TEAM = "team", _("The whole team")
    MANAGERS = "managers", _("Managers")


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    TEAM = "team", _("Team changed")
    PRIORITY = "priority", _("Priority changed")
    CATEGORY = "category", _("Category changed")
    SLA = "sla", _("SLA policy applied")
    CLOCK_PAUSED = "clock_paused", _("Clock paused")
    CLOCK_RESUMED = "clock_resumed", _("Clock resumed")
    FIRST_RESPONSE = "first_response", _("First response")
    BREACHED = "breached", _("SLA breached")
    ESCALATED = "escalated", _("Escalated")
    REOPENED = "reopened", _("Reopened")
    COMPENSATION = "compensation", _("Compensation")
    RATED = "rated", _("Rated")


class CompensationKind(models.TextChoices):
    POINTS = "points", _("Points")
    COUPON = "coupon", _("Coupon")
    REFUND = "refund", _("Refund made elsewhere")


class CompensationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")
