"""Staff pages for coupon batches: list, generate, a sample of codes, and the audited export of
a batch's codes. Views validate, call a selector or service, and render; every rule lives in
``apps.loyalty``."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exports import csv_response, xlsx_response
from apps.loyalty.exports import coupon_batch_export
from apps.loyalty.models import CouponBatch
from apps.loyalty.services import coupon_batch_create
from apps.loyalty.staff_selectors import coupon_batch_list

from ..forms_loyalty import CouponBatchForm
from ._helpers import paginate
from .form_page import FormPageView
from .mixins import StaffRequiredMixin


class CouponBatchListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_couponbatch"
    template_name = "dashboard/loyalty/coupons.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            page_obj=paginate(coupon_batch_list(), self.request), **kwargs
        )


class CouponBatchCreateView(FormPageView):
    permission_required = "loyalty.add_couponbatch"
    form_class = CouponBatchForm
    title = gettext_lazy("New coupon batch")
    submit_label = gettext_lazy("Generate codes")

    def get_form_kwargs(self):
        return {"initial": {"valid_from": timezone.localtime().replace(second=0, microsecond=0)}}

    def save(self, form):
        self.batch = coupon_batch_create(actor=self.request.user, **form.cleaned_data)
        self.success_message = _("%(n)s codes generated.") % {"n": f"{self.batch.size:,}"}

    def get_success_url(self):
        if hasattr(self, "batch"):
            return reverse("dashboard:loyalty-coupon-batch", kwargs={"pk": self.batch.pk})
        return reverse("dashboard:loyalty-coupon-list")

    def get_cancel_url(self):
        return reverse("dashboard:loyalty-coupon-list")


class CouponBatchDetailView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_couponbatch"
    template_name = "dashboard/loyalty/coupon_batch.html"
    SAMPLE = 20

    def get_context_data(self, **kwargs):
        batch = get_object_or_404(coupon_batch_list(), pk=self.kwargs["pk"])
        sample = list(batch.coupons.order_by("id")[: self.SAMPLE])
        return super().get_context_data(batch=batch, sample=sample, **kwargs)


class CouponBatchExportView(StaffRequiredMixin, View):
    """The batch's codes as CSV or XLSX. Codes are bearer value, so exporting needs the right
    to create batches (not only to view them) and is audited (invariant 8)."""

    permission_required = ("loyalty.view_couponbatch", "loyalty.add_couponbatch")

    def get(self, request, pk, fmt):
        batch = get_object_or_404(CouponBatch, pk=pk)
        if fmt not in ("csv", "xlsx"):
            raise Http404
        filename = f"coupons-{batch.pk}-{timezone.localdate():%Y%m%d}"

        def write(header, rows):
            if fmt == "csv":
                return csv_response(filename=filename, header=header, rows=rows)
            return xlsx_response(filename=filename, title=batch.name, header=header, rows=rows)

        return coupon_batch_export(actor=request.user, batch=batch, fmt=fmt, write=write)
