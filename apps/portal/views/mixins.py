"""Access for member pages: signed in, and every object looked up through the member's own
customer (another member's ids are simply not found: 404, never 403). Every /me/ response is
``Cache-Control: no-store`` so a shared computer's back button shows nothing."""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers

from apps.customers.selectors import customer_get_for_member, portal_unread_count


class SignedInMixin:
    """Signed in; the member's customer (or None) is ``self.customer``."""

    needs_membership = False
    nav = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            response = redirect_to_login(request.get_full_path())
        else:
            self.customer = customer_get_for_member(user=request.user)
            if self.needs_membership and self.customer is None:
                response = redirect("portal:join")
            else:
                response = super().dispatch(request, *args, **kwargs)
        add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            customer=self.customer,
            nav=self.nav,
            unread_count=(
                portal_unread_count(customer=self.customer) if self.customer is not None else 0
            ),
        )
        return context


class MemberMixin(SignedInMixin):
    """A signed-in member with a membership; without one they are sent to the join page."""

    needs_membership = True
