"""Writes for the portal inbox. Campaigns and the loyalty engine call ``portal_message_send``;
the portal marks messages read. Reads live in ``selectors`` (``portal_message_*``)."""

from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language
from modeltranslation.utils import build_localized_fieldname

from apps.core.exceptions import ValidationFailed

from .models import Customer, PortalMessage


def _per_language(text: str | Mapping[str, str], column: str) -> dict[str, str]:
    """``{"subject_en": …, "subject_zh_hans": …}`` from one text (the active language's) or a
    mapping of language codes to texts."""
    texts = text if isinstance(text, Mapping) else {get_language() or settings.LANGUAGE_CODE: text}
    return {
        build_localized_fieldname(column, lang): value for lang, value in texts.items() if value
    }


def portal_message_send(
    *,
    customer: Customer,
    subject: str | Mapping[str, str],
    body: str | Mapping[str, str] = "",
    kind: str = PortalMessage.Kind.SYSTEM,
    key: str | None = None,
) -> tuple[PortalMessage, bool]:
    """Put a message in the member's inbox. ``subject`` and ``body`` are one text (in the active
    language) or one per language (``{"en": …, "zh-hans": …}``): the member reads theirs,
    whichever language they switch to. With ``key`` a repeat (retry, duplicate delivery)
    returns the first message and creates nothing (the unique key decides, also under races).
    Anonymised customers receive nothing."""
    if kind not in PortalMessage.Kind.values:
        raise ValidationFailed("Unknown message kind.")
    subjects = {k: v.strip()[:200] for k, v in _per_language(subject, "subject").items()}
    if not any(subjects.values()):
        raise ValidationFailed("A message needs a subject.")
    if customer.anonymized_at is not None:
        raise ValidationFailed("This customer has been anonymised.")
    try:
        with transaction.atomic():
            message = PortalMessage.objects.create(
                customer=customer, kind=kind, key=key, **subjects, **_per_language(body, "body")
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
