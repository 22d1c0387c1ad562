"""The Django admin site, for Administrators only (``roles.is_administrator``).

Every staff role is ``is_staff`` (they sign in to /staff/), which Django's own site takes as
enough. Here an authenticated user who is not an Administrator gets a 403 on every admin page,
the login page included, rather than the admin's "log in as someone else" form.
"""

from functools import update_wrapper

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from apps.core.forms import with_text_rule

from .roles import is_administrator


class ClienteleAdminSite(admin.AdminSite):
    site_header = "Clientele"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every model admin and its inlines edit through forms that hold the text rule."""
        admin_class = admin_class or admin.ModelAdmin
        inlines = [
            type(inline.__name__, (inline,), {"form": with_text_rule(inline.form)})
            for inline in admin_class.inlines
        ]
        attrs = {"form": with_text_rule(admin_class.form), "inlines": inlines, **options}
        # The same class name keeps the admin's templates, messages and tests unchanged.
        ruled = type(admin_class.__name__, (admin_class,), attrs)
        ruled.__module__ = admin_class.__module__
        ruled.__qualname__ = admin_class.__qualname__
        super().register(model_or_iterable, ruled)

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
