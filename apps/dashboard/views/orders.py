"""Staff order list: search by external id or member number, filter by store, export."""

from django.utils.cache import patch_vary_headers
from django.views.generic import TemplateView

from apps.customers.selectors import order_list, store_list

from ..forms import OrderFilterForm
from ._helpers import PartialResultsMixin, paginate
from .mixins import StaffRequiredMixin


class OrderListView(StaffRequiredMixin, PartialResultsMixin, TemplateView):
    permission_required = "customers.view_order"
    template_name = "dashboard/orders/list.html"
    partial_template_name = "dashboard/orders/_results.html"
    results_id = "order-results"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = OrderFilterForm(self.request.GET or None, stores=list(store_list()))
        filters = form.filters()
        context.update(
            form=form,
            filters=filters,
            page_obj=paginate(order_list(**filters), self.request),
            results_id=self.results_id,
        )
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response
