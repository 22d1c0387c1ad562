"""Data quality: the likely duplicates list and the merge page. Both need
``customers.merge_customer`` (Managers and Administrators). The list shows each pair's reasons
and key facts side by side; the merge page compares two customers, lets staff choose which one
survives and give a reason, and calls ``customer_merge``, which does and audits the work."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error
from apps.customers.duplicates import (
    REASON_LABELS,
    duplicate_candidates,
    duplicate_reasons,
    merge_suggestion,
)
from apps.customers.exceptions import CustomerNotFound
from apps.customers.models import Customer
from apps.customers.selectors import customer_get, customer_stats, tag_list_for_customer
from apps.customers.services import customer_merge, customer_merge_check
from apps.loyalty.staff_selectors import points_facts_by_customer

from ._helpers import paginate
from .mixins import StaffRequiredMixin

MERGE_PERMISSIONS = ("customers.view_customer", "customers.merge_customer")
PAIRS_ON_PAGE = 25


class DuplicateFilterForm(forms.Form):
    reason = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any reason")), *REASON_LABELS.items()]
    )
    member = forms.CharField(required=False, max_length=16)


class MergeForm(forms.Form):
    survivor = forms.ChoiceField(label=gettext_lazy("Keep"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Why these two are one person; kept in the audit trail."),
    )

    def __init__(self, *args, first: Customer, second: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [
            (c.member_number, c.member_number) for c in (first, second)
        ]


class DuplicateListView(StaffRequiredMixin, TemplateView):
    permission_required = MERGE_PERMISSIONS
    template_name = "dashboard/customers/duplicates.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = DuplicateFilterForm(self.request.GET or None)
        reason, member = "", None
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            if number := form.cleaned_data["member"].strip():
                try:
                    member = customer_get(member_number=number)
                except CustomerNotFound:
                    form.add_error("member", _("No customer with that member number."))
        page_obj = paginate(
            duplicate_candidates(reason=reason, customer=member),
            self.request,
            per_page=PAIRS_ON_PAGE,
        )
        ids = {c.pk for pair in page_obj.object_list for c in (pair.first, pair.second)}
        points = points_facts_by_customer(ids=ids)
        context.update(
            form=form,
            member=member,
            page_obj=page_obj,
            rows=[
                {
                    "pair": pair,
                    "sides": [
                        {"customer": c, "orders": pair.orders[c.pk], "points": points.get(c.pk)}
                        for c in (pair.first, pair.second)
                    ],
                }
                for pair in page_obj.object_list
            ],
        )
        return context


class CustomerMergeView(StaffRequiredMixin, TemplateView):
    """``/staff/duplicates/<first>/<second>/``: the two records exactly as named (a merged-away
    number is shown as such and refused, not silently replaced by its survivor)."""

    permission_required = MERGE_PERMISSIONS
    template_name = "dashboard/customers/merge.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission():
            try:
                self.first = customer_get(member_number=kwargs["first"], follow_merge=False)
                self.second = customer_get(member_number=kwargs["second"], follow_merge=False)
            except CustomerNotFound as exc:
                raise Http404(exc.message) from exc
        return super().dispatch(request, *args, **kwargs)

    def get_form(self, data=None) -> MergeForm:
        _source, target = merge_suggestion(self.first, self.second)
        return MergeForm(
            data,
            first=self.first,
            second=self.second,
            initial={"survivor": target.member_number},
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = kwargs.get("form") or self.get_form()
        refusal = ""
        try:
            customer_merge_check(source=self.first, target=self.second)
        except ApplicationError as exc:
            refusal = exc.message
        people = (self.first, self.second)
        points = points_facts_by_customer(ids={c.pk for c in people})
        context.update(
            form=form,
            refusal=refusal,
            reasons=[
                str(REASON_LABELS[r])
                for r in (
                    duplicate_reasons(first=self.first, second=self.second) if not refusal else []
                )
            ],
            sides=[
                {
                    "customer": c,
                    "stats": customer_stats(customer=c),
                    "points": points.get(c.pk),
                    "tags": tag_list_for_customer(customer=c),
                    "checked": form["survivor"].value() == c.member_number,
                }
                for c in people
            ],
        )
        return context

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST)
        if form.is_valid():
            keep = form.cleaned_data["survivor"]
            target, source = (
                (self.first, self.second)
                if keep == self.first.member_number
                else (self.second, self.first)
            )
            try:
                customer_merge(
                    source=source,
                    target=target,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(
                    request,
                    _("%(source)s was merged into %(target)s.")
                    % {"source": source.member_number, "target": target.member_number},
                )
                return redirect("dashboard:customer-detail", member_number=target.member_number)
        return self.render_to_response(self.get_context_data(form=form), status=400)
