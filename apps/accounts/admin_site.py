"""The Django admin site, for Administrators only (``roles.is_administrator``).

Every staff role is ``is_staff`` (they sign in to /staff/), which Django's own site takes as
enough. Here an authenticated user who is not an Administrator gets a 403 on every admin page,
the login page included, rather than the admin's "log in as someone else" form.
"""

from functools import update_wrapper

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from .roles import is_administrator


class ClienteleAdminSite(admin.AdminSite):
    site_header = "Clientele"

    def has_permission(self, request) -> bool:
        return is_administrator(request.user)

    def _refuse_other_staff(self, request) -> None:
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def wrapper(request, *args, **kwargs):
            self._refuse_other_staff(request)
            return inner(request, *args, **kwargs)

        return update_wrapper(wrapper, inner)

    def login(self, request, extra_context=None):
        self._refuse_other_staff(request)
        return super().login(request, extra_context)
