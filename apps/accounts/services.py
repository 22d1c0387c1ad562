"""Writes of the accounts app: integration keys, and staff users and their roles.

Staff users (issue 9, part 7): Administrators invite staff by e-mail, change their role,
deactivate and reactivate them, in the dashboard or the Django admin; every change is audited
here. The rule that guards them, whatever the way in: an Administrator cannot remove their own
Administrator rights or deactivate themselves, and the last active Administrator cannot be
removed (``administrator_removal_check``, under a lock on the Administrators' rows).
"""

import secrets

from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import events
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.phones import phone_normalize
from apps.core.services import audit_record

from . import roles
from .models import ApiKey, User
from .roles import user_role


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


# --- staff users and roles ------------------------------------------------------------------


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = _("This e-mail address already belongs to a user.")


class LastAdministrator(Conflict):
    code = "last_administrator"
    default_message = _(
        "This would leave no active Administrator: make someone else an Administrator first."
    )


class SelfLockout(Conflict):
    code = "self_lockout"
    default_message = _(
        "You cannot remove your own Administrator rights or deactivate yourself; ask another "
        "Administrator."
    )


def _role_groups() -> dict[str, Group]:
    return {g.name: g for g in Group.objects.filter(name__in=roles.ROLES)}


def _staff_snapshot(user: User) -> dict:
    return {
        "role": user_role(user),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }


def _administrator_ids():
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(groups__name=roles.ADMINISTRATOR))
        .values("pk")
    )


def _lock_administrators() -> list[int]:
    """Lock every active Administrator's row (pk order) and return who is an Administrator
    once the locks are held. Two requests that each demote a different one of the last two
    Administrators serialise here, and the second sees that only one is left: the ids are read
    again after the lock, in a new statement (a new snapshot), because a demotion may only
    delete a group membership and leave the user row itself unchanged."""
    list(
        User.objects.select_for_update()
        .filter(pk__in=_administrator_ids())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sorted(set(_administrator_ids().values_list("pk", flat=True)))


def administrator_removal_check(*, user: User, actor: User | None, stays: bool) -> None:
    """The rule every way in (dashboard, Django admin) asks before a change to ``user`` that
    leaves them an Administrator (``stays``) or not: an Administrator does not remove their
    own rights, and the last active Administrator is never removed. Call it inside the
    transaction that makes the change: it locks the Administrators' rows."""
    admins = _lock_administrators()
    if stays or user.pk not in admins:
        return
    if actor is not None and actor.pk == user.pk:
        raise SelfLockout()
    if len(admins) <= 1:
        raise LastAdministrator()


def _invitation_url(user: User) -> str:
    """allauth's "set a new password" link for ``user`` (its token generator: the link stops
    working once a password is set, and after ``PASSWORD_RESET_TIMEOUT``)."""
    token = allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(user)
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": token},
    )
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _invitation_send(*, user: User, actor: User | None) -> None:
    """Render now (the inviting Administrator's language), send after commit."""
    context = {
        "user": user,
        "inviter": actor.get_full_name() if actor is not None else "",
        "role": roles.ROLE_LABELS.get(user_role(user), ""),
        "url": _invitation_url(user),
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        "site_url": settings.SITE_URL,
    }
    subject = _("You are invited to the Clientele staff dashboard")
    body = render_to_string("emails/staff_invitation.txt", context)
    message = EmailMessage(
        subject=f"[Clientele] {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    transaction.on_commit(lambda: message.send(fail_silently=False))


@transaction.atomic
def staff_invite(*, email: str, full_name: str = "", role: str, actor: User | None) -> User:
    """A staff account for ``email`` in ``role``, with no usable password, and an e-mail with a
    link to set one (allauth's password-reset-from-key page). The address counts as verified:
    the account opens only through that link or a login code, both sent to it. An address that
    already belongs to any user (staff or member) is refused; nothing is written."""
    email = User.objects.normalize_email(email.strip()).lower()
    if role not in roles.ROLES:
        raise ValidationFailed(_("Choose a role."), field="role")
    if not email:
        raise ValidationFailed(_("Enter an e-mail address."), field="email")
    # Case-insensitive unique index on e-mail: a concurrent invite of the same address fails
    # on insert (IntegrityError below) instead of making two accounts.
    if User.objects.filter(email__iexact=email).exists() or (
        EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        raise EmailTaken(field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=None, full_name=full_name.strip(), is_staff=True
            )
    except IntegrityError:
        raise EmailTaken(field="email") from None
    user.groups.add(_role_groups()[role])
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    audit_record(
        actor=actor,
        action="staff.invite",
        target=user,
        summary=f"{email} ({role})",
        after=_staff_snapshot(user),
    )
    _invitation_send(user=user, actor=actor)
    return user


@transaction.atomic
def staff_invite_resend(*, user: User, actor: User | None) -> User:
    """A fresh invitation link for a staff user who has not set a password yet."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_staff or user.has_usable_password() or not user.is_active:
        raise Conflict(
            _("Only active staff who have not set a password yet can be invited again."),
            code="not_invited",
        )
    audit_record(actor=actor, action="staff.invite_resend", target=user, summary=user.email)
    _invitation_send(user=user, actor=actor)
    return user


@transaction.atomic
def staff_role_change(*, user: User, role: str, actor: User | None) -> User:
    """Put ``user`` in ``role`` (their one role group; other groups stay). Leaving the
    Administrator role also drops superuser status, or it would not take anything away.
    Refused: removing one's own Administrator rights, or the last active Administrator's."""
    if role not in roles.ROLES:
        raise ValidationFailed(_("Choose a role."), field="role")
    administrator_removal_check(user=user, actor=actor, stays=role == roles.ADMINISTRATOR)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_staff:
        raise Conflict(_("This account is not a staff account."), code="not_staff")
    before = _staff_snapshot(user)
    groups = _role_groups()
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
    if role != roles.ADMINISTRATOR and user.is_superuser:
        user.is_superuser = False
        user.save(update_fields=["is_superuser"])
    after = _staff_snapshot(user)
    if after != before:
        audit_record(
            actor=actor,
            action="staff.role_change",
            target=user,
            summary=f"{user.email}: {before['role']} → {role}",
            before=before,
            after=after,
        )
    return user


@transaction.atomic
def staff_deactivate(*, user: User, actor: User | None) -> User:
    """Switch a staff account off: it can no longer log in (its sessions end at their next
    request, as Django refuses inactive users). Refused for oneself and for the last active
    Administrator."""
    if actor is not None and actor.pk == user.pk:
        raise SelfLockout()
    administrator_removal_check(user=user, actor=actor, stays=False)
    return _staff_active_set(user=user, actor=actor, active=False)


@transaction.atomic
def staff_reactivate(*, user: User, actor: User | None) -> User:
    return _staff_active_set(user=user, actor=actor, active=True)


def _staff_active_set(*, user: User, actor: User | None, active: bool) -> User:
    """Switch a staff account on or off under its row lock; audited when it changes."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_staff:
        raise Conflict(_("This account is not a staff account."), code="not_staff")
    if user.is_active != active:
        before = _staff_snapshot(user)
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="staff.reactivate" if active else "staff.deactivate",
            target=user,
            summary=user.email,
            before=before,
            after=_staff_snapshot(user),
        )
    return user


@transaction.atomic
def staff_admin_saved(*, user: User, before: dict, actor: User | None) -> None:
    """The Django admin saved ``user`` (inside its transaction): apply the Administrator rule to
    the saved state and audit what changed. Raises (and so rolls the save back) when the save
    removed the last active Administrator or the actor's own rights."""
    user._is_administrator = None
    stays = bool(
        user.is_active
        and user.is_staff
        and (user.is_superuser or user.groups.filter(name=roles.ADMINISTRATOR).exists())
    )
    was = before.get("role") == roles.ADMINISTRATOR and before.get("is_active")
    if was and not stays:
        if actor is not None and actor.pk == user.pk:
            raise SelfLockout()
        if not [pk for pk in _lock_administrators() if pk != user.pk]:
            raise LastAdministrator()
    after = _staff_snapshot(user)
    if before and after != before:
        audit_record(
            actor=actor,
            action="staff.update",
            target=user,
            summary=user.email,
            before=before,
            after=after,
        )


def staff_snapshot(user: User) -> dict:
    """What the audit records of a staff account's access (role, active, staff, superuser)."""
    return _staff_snapshot(user)
