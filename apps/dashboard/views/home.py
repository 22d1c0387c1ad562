"""The staff landing page: headline numbers and the newest members, in a handful of queries."""

from django.views.generic import TemplateView

from apps.customers.selectors import customer_recent, customer_summary

from .mixins import StaffRequiredMixin

RECENT_CUSTOMERS = 10


class HomeView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.has_perm("customers.view_customer"):
            context["summary"] = customer_summary(days=30)
            context["recent_customers"] = customer_recent(limit=RECENT_CUSTOMERS)
        return context
