from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from . import roles
from .models import ApiKey, User


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key matching ``raw``, or None. Lookup by hash (unique index), constant work."""
    key = ApiKey.objects.filter(key_hash=ApiKey.hash(raw), revoked_at__isnull=True).first()
    if key is not None and (
        key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60
    ):
        # Touch at most once a minute: no write on every till request.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def user_get_by_email(*, email: str) -> User | None:
    """The account with this e-mail (case-insensitive, as logins are), or None."""
    return User.objects.filter(email__iexact=email.strip()).first()


def user_get_by_phone(*, phone: str) -> User | None:
    """The account signing in with this mobile number (E.164): the one that verified it, else
    one that only typed it at sign-up (a code sent to the number then proves it), else None."""
    if not phone:
        return None
    return User.objects.filter(phone=phone).order_by("-phone_verified", "pk").first()


def verified_phone_get(*, user) -> str:
    """The account's verified mobile number (E.164), or "" (read afresh: a verification may
    have happened since ``user`` was loaded)."""
    if user is None or user.pk is None:
        return ""
    phone = (
        User.objects.filter(pk=user.pk, phone_verified=True).values_list("phone", flat=True).first()
    )
    return phone or ""


def staff_list() -> QuerySet[User]:
    """Staff accounts by e-mail (for pickers: the audit trail's actor filter)."""
    return User.objects.filter(is_staff=True).order_by("email")


def users_in_role(*, role: str) -> QuerySet[User]:
    """Active staff users in the role's group who have an e-mail address, by id (for notices
    such as the ledger verification's, which go to every Manager)."""
    return (
        User.objects.filter(groups__name=role, is_active=True, is_staff=True)
        .exclude(email__isnull=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def staff_user_list(*, query: str = "", role: str = "", active: str = "") -> QuerySet[User]:
    """Staff accounts for the Administrators' page, active first, by name and e-mail, with
    their role groups prefetched (``roles.user_role`` reads them without a query per row): two
    queries for any number of rows, plus the page count."""
    qs = User.objects.filter(is_staff=True).prefetch_related(
        Prefetch("groups", queryset=Group.objects.filter(name__in=roles.ROLES))
    )
    if query:
        qs = qs.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    if role == roles.ADMINISTRATOR:
        qs = qs.filter(Q(is_superuser=True) | Q(groups__name=role)).distinct()
    elif role in roles.ROLES:
        qs = qs.filter(groups__name=role, is_superuser=False).distinct()
    if active == "yes":
        qs = qs.filter(is_active=True)
    elif active == "no":
        qs = qs.filter(is_active=False)
    return qs.order_by("-is_active", "full_name", "email")


def staff_user_get(*, pk: int) -> User | None:
    """One staff account (members are not managed on the staff page), or None."""
    return User.objects.filter(pk=pk, is_staff=True).first()
