"""Staff page for the redemption fulfilment queue: fulfil one or several (ticked) redemptions,
or cancel one after a confirmation page. Each row shows where the reward goes: the pick-up
store or the delivery address. Views validate, call a selector or service, and render; every
rule lives in ``apps.loyalty``."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.loyalty.enums import RedemptionStatus
from apps.loyalty.services import redemption_cancel, redemption_fulfil, redemptions_fulfil
from apps.loyalty.staff_selectors import fulfilment_queue

from ..forms_loyalty import BulkFulfilForm, CancelRedemptionForm, FulfilForm
from ..list_filters import redemption_status_param
from ._helpers import paginate
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin


class RedemptionQueueView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.fulfil_redemption"
    template_name = "dashboard/loyalty/redemptions.html"

    def get_context_data(self, **kwargs):
        status = redemption_status_param(self.request.GET)
        return super().get_context_data(
            page_obj=paginate(fulfilment_queue(status=status), self.request),
            status=status,
            statuses=RedemptionStatus.choices,
            fulfil_form=FulfilForm(),
            cancel_form=CancelRedemptionForm(),
            **kwargs,
        )


class RedemptionExportView(SourceExportView):
    kind = "redemptions"


class RedemptionActionView(StaffRequiredMixin, View):
    """POST fulfil or cancel one redemption of the queue; refusals show as a message. Cancelling
    gives the points back and cannot be undone, so its GET is a confirmation page whose form
    posts here."""

    permission_required = "loyalty.fulfil_redemption"
    action = ""

    def get(self, request, pk):
        if self.action != "cancel":
            return redirect("dashboard:loyalty-redemption-list")
        redemption = get_object_or_404(fulfilment_queue(status=""), pk=pk)
        if redemption.status != RedemptionStatus.REQUESTED:
            messages.error(request, _("This redemption can no longer be cancelled."))
            return redirect("dashboard:loyalty-redemption-list")
        return render(
            request,
            "dashboard/loyalty/redemption_cancel.html",
            {"r": redemption, "form": CancelRedemptionForm()},
        )

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


class RedemptionBulkFulfilView(StaffRequiredMixin, View):
    """POST the ticked rows of the queue: each is fulfilled on its own (see
    ``redemptions_fulfil``); the message says how many were, and which were not and why."""

    permission_required = "loyalty.fulfil_redemption"

    def post(self, request):
        form = BulkFulfilForm(request.POST)
        back = redirect("dashboard:loyalty-redemption-list")
        if not form.is_valid():
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
            return back
        try:
            outcome = redemptions_fulfil(
                ids=form.cleaned_data["ids"],
                actor=request.user,
                notes=form.cleaned_data["notes"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return back
        if outcome.fulfilled:
            messages.success(
                request,
                ngettext(
                    "%(n)s redemption marked as fulfilled.",
                    "%(n)s redemptions marked as fulfilled.",
                    len(outcome.fulfilled),
                )
                % {"n": len(outcome.fulfilled)},
            )
        for pk, redemption, reason in outcome.failed:
            if redemption is None:
                label = _("Redemption %(id)s") % {"id": pk}
            else:
                label = _("%(reward)s for %(member)s") % {
                    "reward": redemption.reward.name,
                    "member": redemption.account.customer.display_name,
                }
            messages.error(
                request, _("Not fulfilled: %(what)s. %(why)s") % {"what": label, "why": reason}
            )
        return back
