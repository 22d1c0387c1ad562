"""Staff privacy actions on a customer: export everything held (Managers: ``export_customer``)
and erase (``delete_customer``, granted to Managers and Administrators). Both ask for
confirmation on a GET page and act on POST; both are audited by the services."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView

from apps.customers.exceptions import CustomerNotFound
from apps.customers.selectors import customer_get, customer_privacy_summary
from apps.customers.services import customer_erase, customer_export

from .mixins import StaffRequiredMixin


class EraseConfirmForm(forms.Form):
    member_number = forms.CharField(
        label=gettext_lazy("Type the member number to confirm"), max_length=16
    )

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_member_number(self):
        value = self.cleaned_data["member_number"].strip()
        if value != self.expected:
            raise forms.ValidationError(_("The member number does not match."))
        return value


class _CustomerPrivacyBase(StaffRequiredMixin, FormView):
    template_name = "dashboard/customers/privacy_confirm.html"
    action = ""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission():
            try:
                self.customer = customer_get(member_number=kwargs["member_number"])
            except CustomerNotFound as exc:
                raise Http404 from exc
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            customer=self.customer,
            action=self.action,
            privacy=customer_privacy_summary(customer=self.customer),
        )
        return context


class CustomerExportView(_CustomerPrivacyBase):
    permission_required = "customers.export_customer"
    form_class = forms.Form
    action = "export"

    def form_valid(self, form):
        filename, payload = customer_export(customer=self.customer, actor=self.request.user)
        response = HttpResponse(payload, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response


class CustomerEraseView(_CustomerPrivacyBase):
    permission_required = "customers.delete_customer"
    form_class = EraseConfirmForm
    action = "erase"

    def get_form_kwargs(self):
        return super().get_form_kwargs() | {"expected": self.customer.member_number}

    def form_valid(self, form):
        if self.customer.anonymized_at is None:
            customer_erase(customer=self.customer, actor=self.request.user)
            messages.success(self.request, _("The customer's personal data has been erased."))
        return redirect("dashboard:customer-detail", member_number=self.customer.member_number)
