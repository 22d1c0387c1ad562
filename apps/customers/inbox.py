"""Writes for the portal inbox. Campaigns and the loyalty engine call ``portal_message_send``;
the portal marks messages read. Reads live in ``selectors`` (``portal_message_*``)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import ValidationFailed

from .models import Customer, PortalMessage


def portal_message_send(
    *,
    customer: Customer,
    subject: str,
    body: str = "",
    kind: str = PortalMessage.Kind.SYSTEM,
    key: str | None = None,
) -> tuple[PortalMessage, bool]:
    """Put a message in the member's inbox. With ``key`` a repeat (retry, duplicate delivery)
    returns the first message and creates nothing (the unique key decides, also under races).
    Anonymised customers receive nothing."""
    if kind not in PortalMessage.Kind.values:
        raise ValidationFailed("Unknown message kind.")
    if not subject.strip():
        raise ValidationFailed("A message needs a subject.")
    if customer.anonymized_at is not None:
        raise ValidationFailed("This customer has been anonymised.")
    try:
        with transaction.atomic():
            message = PortalMessage.objects.create(
                customer=customer, subject=subject.strip()[:200], body=body, kind=kind, key=key
            )
            return message, True
    except IntegrityError:
        existing = PortalMessage.objects.filter(key=key).first() if key else None
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def portal_message_mark_read(*, message: PortalMessage) -> PortalMessage:
    """Mark read once; the first read time is kept."""
    if message.read_at is None:
        now = timezone.now()
        PortalMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
        message.read_at = now
    return message
