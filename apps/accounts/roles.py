"""Staff roles are Groups with explicit permissions. Each app's data migration grants its own
permissions with :func:`grant`, so a role's rights live next to the models they concern."""

from django.contrib.auth.management import create_permissions
from django.utils.translation import gettext_lazy as _

SUPPORT_AGENT = "Support agent"
MARKETING = "Marketing"
MANAGER = "Manager"
ADMINISTRATOR = "Administrator"
ROLES = [SUPPORT_AGENT, MARKETING, MANAGER, ADMINISTRATOR]

ROLE_LABELS = {
    SUPPORT_AGENT: _("Support agent"),
    MARKETING: _("Marketing"),
    MANAGER: _("Manager"),
    ADMINISTRATOR: _("Administrator"),
}


def ensure_permissions(apps, app_label: str) -> None:
    """Permissions are normally created after ``migrate``; data migrations need them now."""
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None


def grant(apps, app_label: str, mapping: dict[str, list[str]]) -> None:
    """Grant ``{role: ["codename", ...]}`` of ``app_label`` to the role groups (idempotent)."""
    ensure_permissions(apps, app_label)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in mapping.items():
        group, _created = Group.objects.get_or_create(name=role)
        perms = list(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in perms}
        if missing:
            raise RuntimeError(f"Unknown permissions for {app_label}: {sorted(missing)}")
        group.permissions.add(*perms)


def is_administrator(user) -> bool:
    """Administrators own the Django admin (DESIGN, roles): active staff who are superusers or
    in the Administrator group. Agents, marketers and managers work in /staff/ only. The
    answer is kept on the user object, so a page that asks twice costs one query."""
    cached = getattr(user, "_is_administrator", None)
    if cached is None:
        cached = bool(
            user.is_authenticated
            and user.is_active
            and user.is_staff
            and (user.is_superuser or user.groups.filter(name=ADMINISTRATOR).exists())
        )
        if user.is_authenticated:
            user._is_administrator = cached
    return cached


def user_role(user) -> str:
    """The user's staff role: Administrator for superusers, else the highest role group they
    are in (``ROLES`` order), "" for none. Reads ``user.groups.all()``, so a list that
    prefetches the groups answers without a query per row."""
    if user.is_superuser:
        return ADMINISTRATOR
    names = {group.name for group in user.groups.all()}
    return next((role for role in reversed(ROLES) if role in names), "")
