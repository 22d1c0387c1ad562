"""Staff page for the redemption fulfilment queue: fulfil or cancel a member's redemption.
Views validate, call a selector or service, and render; every rule lives in ``apps.loyalty``."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.loyalty.enums import RedemptionStatus
from apps.loyalty.services import redemption_cancel, redemption_fulfil
from apps.loyalty.staff_selectors import fulfilment_queue

from ..forms_loyalty import CancelRedemptionForm, FulfilForm
from ._helpers import paginate
from .mixins import StaffRequiredMixin


class RedemptionQueueView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.fulfil_redemption"
    template_name = "dashboard/loyalty/redemptions.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status", RedemptionStatus.REQUESTED)
        status = status if status in RedemptionStatus.values else RedemptionStatus.REQUESTED
        return super().get_context_data(
            page_obj=paginate(fulfilment_queue(status=status), self.request),
            status=status,
            statuses=RedemptionStatus.choices,
            fulfil_form=FulfilForm(),
            cancel_form=CancelRedemptionForm(),
            **kwargs,
        )


class RedemptionActionView(StaffRequiredMixin, View):
    """POST fulfil or cancel one redemption of the queue; refusals show as a message."""

    permission_required = "loyalty.fulfil_redemption"
    action = ""

    def post(self, request, pk):
        redemption = get_object_or_404(fulfilment_queue(status=""), pk=pk)
        form = (FulfilForm if self.action == "fulfil" else CancelRedemptionForm)(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
            return redirect("dashboard:loyalty-redemption-list")
        try:
            if self.action == "fulfil":
                redemption_fulfil(
                    redemption=redemption, actor=request.user, notes=form.cleaned_data["notes"]
                )
                messages.success(request, _("Marked as fulfilled."))
            else:
                redemption_cancel(
                    redemption=redemption, actor=request.user, reason=form.cleaned_data["reason"]
                )
                messages.success(request, _("Redemption cancelled; the points are back."))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("dashboard:loyalty-redemption-list")
