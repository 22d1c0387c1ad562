"""Campaigns (/staff/campaigns/): the list with cheap per-campaign figures, the editor (settings
and up to five variants), start / pause / resume / cancel, and the progress partial a running
send polls. Every write goes through ``apps.campaigns.services.lifecycle``; the send runs in
Celery. The detail page, the messages and the exports are in ``campaign_results``, the preview
and the test send in ``campaign_preview``.

The list and its figures are read by ``apps.campaigns.listing`` (the list's export reads them
too). A read that ``apps.campaigns`` has no selector for yet (a campaign by pk) is a small query
here, marked as such, to move into ``apps/campaigns/selectors.py``."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.campaigns.enums import CampaignKind, CampaignStatus, MessageStatus
from apps.campaigns.listing import campaign_figures, campaign_list
from apps.campaigns.models import Campaign, CampaignSettings
from apps.campaigns.services.delivery import campaign_counts
from apps.campaigns.services.lifecycle import (
    CONTENT_FIELDS,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_start,
)
from apps.campaigns.tasks import send_soon
from apps.campaigns.templating import CONTEXT_NAMES, LINK_NAMES
from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error
from apps.customers.enums import Channel

from ..forms_campaigns import CampaignForm, PreviewForm, VariantFormSet, variant_initial
from ..list_filters import campaign_filters_parse
from ._helpers import paginate
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

VIEW = "campaigns.view_campaign"
VARIANT_PREFIX = "variants"

# One line on each name a message may use, in the editor's help panel.
CONTEXT_HELP = {
    "first_name": gettext_lazy("A Chinese name whole (张伟), else the first name."),
    "member_number": gettext_lazy("The member number."),
    "tier": gettext_lazy("The member's tier, in their language."),
    "points": gettext_lazy("The points balance now."),
    "expiring_points": gettext_lazy("Points that expire soon (0 if none)."),
    "expiring_on": gettext_lazy("When the first of those points expire."),
    "coupon_code": gettext_lazy("The personal coupon's code, with a coupon offer."),
    "coupon_value": gettext_lazy("What the coupon is worth (¥20, 15%)."),
    "bonus_points": gettext_lazy("The bonus points, with a bonus-points offer."),
    "links": gettext_lazy("Links into the member portal:"),
}
LINK_HELP = {
    "portal": gettext_lazy("the member's home page"),
    "rewards": gettext_lazy("rewards to redeem"),
    "coupons": gettext_lazy("the member's coupons"),
    "points": gettext_lazy("points history"),
    "unsubscribe": gettext_lazy("opt out of this channel (added to e-mails anyway)"),
}
KIND_TABS = [
    ("", gettext_lazy("All")),
    (CampaignKind.BROADCAST, gettext_lazy("Broadcasts")),
    (CampaignKind.TRIGGERED, gettext_lazy("Journeys")),
]


# --- reads (to move into apps.campaigns.selectors) ----------------------------------------------


def campaign_or_404(pk: int) -> Campaign:
    campaign = Campaign.objects.select_related("segment", "created_by").filter(pk=pk).first()
    if campaign is None:
        raise Http404(_("No such campaign."))
    return campaign


# --- list ---------------------------------------------------------------------------------------


class CampaignListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/campaigns/list.html"

    def get_context_data(self, **kwargs):
        filters = campaign_filters_parse(self.request.GET)
        kind, status = filters["kind"], filters["status"]
        page = paginate(campaign_list(kind=kind, status=status), self.request)
        figures = campaign_figures(campaigns=list(page.object_list))
        rows = [(c, figures[c.pk]) for c in page.object_list]
        return super().get_context_data(
            page_obj=page,
            rows=rows,
            kind=kind,
            status=status,
            tabs=KIND_TABS,
            statuses=CampaignStatus.choices,
            **kwargs,
        )


class CampaignListExportView(SourceExportView):
    kind = "campaigns"


# --- create and edit ----------------------------------------------------------------------------


def help_names() -> list[dict]:
    """The names a message may use, each with a line on what it holds (the editor's help)."""
    out = []
    for name in CONTEXT_NAMES:
        item = {"name": name, "text": CONTEXT_HELP.get(name, ""), "links": []}
        if name == "links":
            item["links"] = [
                {"name": f"links.{link}", "text": LINK_HELP.get(link, "")} for link in LINK_NAMES
            ]
        out.append(item)
    return out


def _error_to_variant(formset, exc: ApplicationError) -> bool:
    """Put a refused variant's error on its field: the service names the field and starts the
    message with the variant's label ("B · body_en: …", "Variant B needs …")."""
    field = exc.extra.get("field")
    if field not in (*CONTENT_FIELDS, "label", "weight"):
        return False
    for form in formset.forms:
        label = (form.cleaned_data or {}).get("label", "")
        if not label or formset._should_delete_form(form):
            continue
        if exc.message.startswith(f"{label} · ") or f" {label} " in f" {exc.message} ":
            form.add_error(field, exc.message)
            return True
    return False


class _CampaignFormView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard/campaigns/form.html"
    campaign: Campaign | None = None
    kind = CampaignKind.BROADCAST

    def get_forms(self, data=None):
        form = CampaignForm(
            data,
            instance=self.campaign or Campaign(kind=self.kind),
            kind=self.kind,
            default_window=CampaignSettings.get().conversion_days,
        )
        initial = variant_initial(self.campaign) if self.campaign else [{"label": "A"}]
        variants = VariantFormSet(data, initial=initial, prefix=VARIANT_PREFIX)
        return form, variants

    def get_context_data(self, **kwargs):
        if "form" not in kwargs:
            kwargs["form"], kwargs["variants"] = self.get_forms()
        return super().get_context_data(
            campaign=self.campaign,
            kind=self.kind,
            help_names=help_names(),
            preview_form=PreviewForm(initial={"channel": Channel.EMAIL}),
            variant_choices=list(self.campaign.variants.all()) if self.campaign else [],
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        form, variants = self.get_forms(request.POST)
        if form.is_valid() and variants.is_valid():
            try:
                campaign = campaign_save(
                    actor=request.user,
                    names=form.names(),
                    settings=form.settings(),
                    variants=variants.variants(),
                    campaign=self.campaign,
                )
            except ApplicationError as exc:
                if not _error_to_variant(variants, exc):
                    add_service_error(form, exc)
            else:
                messages.success(request, _("Campaign saved."))
                return redirect("dashboard:campaign-detail", pk=campaign.pk)
        context = self.get_context_data(form=form, variants=variants)
        return self.render_to_response(context, status=400)


class CampaignCreateView(_CampaignFormView):
    permission_required = "campaigns.add_campaign"

    def dispatch(self, request, *args, **kwargs):
        kind = request.GET.get("kind", "")
        self.kind = kind if kind in CampaignKind.values else CampaignKind.BROADCAST
        return super().dispatch(request, *args, **kwargs)


class CampaignEditView(_CampaignFormView):
    permission_required = "campaigns.change_campaign"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated or not self.has_permission():
            return super().dispatch(request, *args, **kwargs)
        self.campaign = campaign_or_404(kwargs["pk"])
        self.kind = self.campaign.kind
        if not self.campaign.can_edit:
            messages.warning(request, _("Only a draft or scheduled campaign can be changed."))
            return redirect("dashboard:campaign-detail", pk=self.campaign.pk)
        return super().dispatch(request, *args, **kwargs)


# --- start, pause, resume, cancel ---------------------------------------------------------------


class _ActionView(StaffRequiredMixin, View):
    permission_required = "campaigns.send_campaign"
    service = None
    done = ""
    send = False

    def post(self, request, pk):
        campaign = campaign_or_404(pk)
        try:
            campaign = type(self).service(campaign=campaign, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if self.send:
                send_soon(campaign.pk)  # after the service's commit: the send runs in Celery
            messages.success(request, str(self.done))
        return redirect("dashboard:campaign-detail", pk=pk)


class CampaignStartView(_ActionView):
    service = campaign_start
    done = gettext_lazy("Campaign started.")
    send = True


class CampaignPauseView(_ActionView):
    service = campaign_pause
    done = gettext_lazy("Campaign paused: nothing more is sent until it resumes.")


class CampaignResumeView(_ActionView):
    service = campaign_resume
    done = gettext_lazy("Campaign resumed.")
    send = True


class CampaignCancelView(_ActionView):
    service = campaign_cancel
    done = gettext_lazy("Campaign cancelled: what was not sent yet will not be sent.")


# --- progress (htmx) ----------------------------------------------------------------------------


def progress(campaign: Campaign, counts: dict[str, int] | None = None) -> dict:
    """Placed of the audience, and sent of what is to send, from the counts per status (read
    here unless the caller has them)."""
    counts = campaign_counts(campaign=campaign) if counts is None else counts
    placed = sum(counts.values())
    skipped = counts.get(MessageStatus.SUPPRESSED, 0) + counts.get(MessageStatus.HOLDOUT, 0)
    to_send = placed - skipped
    done = to_send - counts.get(MessageStatus.QUEUED, 0)
    audience = campaign.audience_size if campaign.kind == CampaignKind.BROADCAST else placed

    def pct(part: int, whole: int) -> int:
        return max(0, min(100, round(part * 100 / whole))) if whole else 0

    return {
        "counts": counts,
        "placed": placed,
        "audience": audience,
        "to_send": to_send,
        "done": done,
        "placed_pct": 100 if campaign.placed_at else pct(placed, audience),
        "done_pct": pct(done, to_send),
        "failed": counts.get(MessageStatus.FAILED, 0),
    }


class CampaignProgressView(StaffRequiredMixin, View):
    """The progress partial; a running campaign's page polls it every 2 s. When the send ends
    while the page polls (``?polling=1``), the page reloads to show the results."""

    permission_required = VIEW

    def get(self, request, pk):
        campaign = campaign_or_404(pk)
        if request.GET.get("polling") and campaign.status != CampaignStatus.RUNNING:
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(
            request,
            "dashboard/campaigns/_progress.html",
            {"campaign": campaign, "progress": progress(campaign)},
        )
