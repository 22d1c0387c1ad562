import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import events
from apps.core.exceptions import Conflict
from apps.core.phones import phone_normalize
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


def user_phone_set(*, user: User, phone: str) -> User:
    """Give the account a mobile number that is not verified yet (allauth's sign-up with a
    phone, or a new number typed at its verification step). An unverified number proves nothing:
    it signs nobody in by code on its own and never claims a membership. A user not saved yet
    only gets the attribute (allauth saves it)."""
    phone = phone_normalize(phone)
    if user.pk is None:
        user.phone, user.phone_verified = phone, False
        return user
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.phone != phone or locked.phone_verified:
            locked.phone, locked.phone_verified = phone, False
            locked.save(update_fields=["phone", "phone_verified"])
    user.phone, user.phone_verified = phone, False
    return user


def user_phone_verify(*, user: User, phone: str) -> bool:
    """Make ``phone`` the account's verified mobile number: the member has just typed the code
    sent to it (sign-up, sign-in by code, or a change in account settings). Returns whether
    anything changed (signing in again by code with the same number changes nothing).

    A verified number belongs to one account: another account holding it verified is a
    ``Conflict`` (allauth checks this before, the unique constraint settles a race); other
    accounts that only typed it, unverified, lose it. Publishes ``account.phone_verified``
    inside the transaction, so the membership's phone follows (customers subscribes)."""
    phone = phone_normalize(phone)
    try:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            if locked.phone == phone and locked.phone_verified:
                return False
            if User.objects.filter(phone=phone, phone_verified=True).exclude(pk=user.pk).exists():
                raise Conflict(_("This mobile number belongs to another account."))
            User.objects.filter(phone=phone, phone_verified=False).exclude(pk=user.pk).update(
                phone=""
            )
            # "verified": typed at sign-up and proved now.
            what = "verified" if locked.phone == phone else "changed" if locked.phone else "added"
            locked.phone, locked.phone_verified = phone, True
            locked.save(update_fields=["phone", "phone_verified"])
            audit_record(
                actor=locked,
                action="account.phone_verify",
                target=locked,
                # The last digits only: enough to tell numbers apart in the trail.
                summary=f"{what} ***{phone[-4:]}",
            )
            events.publish("account.phone_verified", user_id=locked.pk, phone=phone)
    except IntegrityError as exc:  # verified by another account at the same moment
        raise Conflict(_("This mobile number belongs to another account.")) from exc
    user.phone, user.phone_verified = phone, True
    return True
