from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


# Waiting for an attempt: the send task and the retry sweep look only at these.
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
