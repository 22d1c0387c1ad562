import secrets

from django.db import transaction
from django.utils import timezone

from apps.core.services import audit_record

from .models import ApiKey, User


@transaction.atomic
def api_key_create(*, name: str, actor: User | None = None) -> tuple[ApiKey, str]:
    """Create an integration key. Returns the row and the raw key, which is never stored."""
    prefix = secrets.token_hex(4)
    raw = f"clt_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=ApiKey.hash(raw), created_by=actor
    )
    audit_record(actor=actor, action="api_key.create", target=key, summary=name)
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_key.revoke", target=key, summary=key.name)
    return key
