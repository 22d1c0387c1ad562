"""The staff landing page: headline numbers and the newest members, in a handful of queries."""

from django.views.generic import TemplateView

from apps.customers.selectors import customer_list_recent, customer_summary
from apps.loyalty.staff_selectors import ledger_verification_latest

from .mixins import StaffRequiredMixin

RECENT_CUSTOMERS = 10


class HomeView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.has_perm("customers.view_customer"):
            context["summary"] = customer_summary(days=30)
            context["recent_customers"] = customer_list_recent(limit=RECENT_CUSTOMERS)
        if self.request.user.has_perm("loyalty.view_ledgerverification"):
            # Clientele has no staff inbox: a ledger fault shows here until a run passes again.
            latest = ledger_verification_latest()
            context["ledger_fault"] = latest if latest is not None and not latest.ok else None
        return context
