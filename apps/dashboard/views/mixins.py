"""Access rules for staff pages: logged in, ``is_staff``, and the page's permissions.

Anonymous users are sent to the login page; logged-in users without the right get 403."""

from django.contrib.auth.mixins import AccessMixin

from apps.accounts.roles import is_administrator


class StaffRequiredMixin(AccessMixin):
    """Staff member with every permission in ``permission_required`` (a str or a tuple)."""

    permission_required: str | tuple[str, ...] = ()
    raise_exception = False

    def get_permission_required(self) -> tuple[str, ...]:
        perms = self.permission_required
        return (perms,) if isinstance(perms, str) else tuple(perms)

    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_staff and user.has_perms(self.get_permission_required())

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not self.has_permission():
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


class AdministratorRequiredMixin(StaffRequiredMixin):
    """Administrators only (``roles.is_administrator``: active staff who are superusers or in
    the Administrator group), the same rule as the Django admin."""

    def has_permission(self) -> bool:
        return is_administrator(self.request.user)
