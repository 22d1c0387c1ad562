"""Writes for the portal inbox. Campaigns and the loyalty engine call ``portal_message_send``;
the portal marks messages read. Reads live in ``selectors`` (``portal_message_*``)."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.content import content_input, localized_fields
from apps.core.exceptions import ValidationFailed

from .models import Customer, PortalMessage

SUBJECT_COLUMNS = localized_fields(PortalMessage, ["subject"])
BODY_COLUMNS = localized_fields(PortalMessage, ["body"])
SUBJECT_MAX = PortalMessage._meta.get_field("subject").max_length


def portal_message_send(
    *,
    customer: Customer,
    subject: str = "",
    body: str = "",
    kind: str = PortalMessage.Kind.SYSTEM,
    key: str | None = None,
    sent_at: dt.datetime | None = None,
    **content: str,
) -> tuple[PortalMessage, bool]:
    """Put a message in the member's inbox. ``subject`` and ``body`` are in the active
    language; ``content`` gives them per language instead (``subject_en``, ``body_zh_hans``, …),
    so a member reads the message in whichever language they switch to. A subject is needed in
    at least one language. With ``key`` a repeat (retry, duplicate delivery) returns the first
    message and creates nothing (the unique key decides, also under races). ``sent_at``
    (default now) dates it. Anonymised customers receive nothing."""
    unknown = set(content) - set(SUBJECT_COLUMNS) - set(BODY_COLUMNS)
    if unknown:
        raise ValidationFailed(f"Unknown message fields: {', '.join(sorted(unknown))}.")
    if kind not in PortalMessage.Kind.values:
        raise ValidationFailed("Unknown message kind.")
    values = content_input(PortalMessage, {"subject": subject, "body": body, **content})
    for column in SUBJECT_COLUMNS:
        values[column] = (values.get(column) or "").strip()[:SUBJECT_MAX]
    for column in BODY_COLUMNS:
        values[column] = values.get(column) or ""
    if not any(values[column] for column in SUBJECT_COLUMNS):
        raise ValidationFailed("A message needs a subject.")
    if customer.anonymized_at is not None:
        raise ValidationFailed("This customer has been anonymised.")
    try:
        with transaction.atomic():
            message = PortalMessage.objects.create(
                customer=customer,
                kind=kind,
                key=key,
                sent_at=sent_at or timezone.now(),
                **values,
            )
            return message, True
    except IntegrityError:
        existing = PortalMessage.objects.filter(key=key).first() if key else None
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def portal_message_mark_read(
    *, message: PortalMessage, at: dt.datetime | None = None
) -> PortalMessage:
    """Mark read once; the first read time is kept (``at``, default now)."""
    if message.read_at is None:
        now = at or timezone.now()
        PortalMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
        message.read_at = now
    return message


def portal_messages_send_bulk(*, messages: list[PortalMessage]) -> int:
    """Put many messages in their members' inboxes with one insert (a campaign's batch). Each
    carries a ``key``, so a repeated batch adds nothing; subject and body are the per-language
    columns, already filled by the caller."""
    for message in messages:
        if not message.key:
            raise ValidationFailed("A bulk inbox message needs a key.")
        for column in SUBJECT_COLUMNS:
            setattr(message, column, (getattr(message, column) or "").strip()[:SUBJECT_MAX])
    created = PortalMessage.objects.bulk_create(messages, ignore_conflicts=True, batch_size=1000)
    return len(created)
