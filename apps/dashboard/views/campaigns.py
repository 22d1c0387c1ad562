"""Campaigns (/staff/campaigns/): the list with cheap per-campaign figures, the editor (settings
and up to five variants), start / pause / resume / cancel, the progress partial a running send
polls, the preview with a real member's data and the test send to oneself. Every write goes
through ``apps.campaigns.services.lifecycle``; the send runs in Celery. The detail page, the
messages and the exports are in ``campaign_results``.

Reads that ``apps.campaigns`` has no selector for yet (the list's figures, a campaign by pk)
are small queries here, marked as such, to move into ``apps/campaigns/selectors.py``."""

import datetime as dt
from types import SimpleNamespace

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.mail import EmailMultiAlternatives
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import TemplateView

from apps.campaigns.composer import compose, context_for, language_for, token_url
from apps.campaigns.enums import CampaignKind, CampaignStatus, MessageStatus, OfferKind
from apps.campaigns.models import Campaign, CampaignSettings, Message
from apps.campaigns.services.delivery import campaign_counts, tier_names
from apps.campaigns.services.lifecycle import (
    CONTENT_FIELDS,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_start,
)
from apps.campaigns.tasks import send_soon
from apps.campaigns.templating import CONTEXT_NAMES, LINK_NAMES, TemplateFailed, sample_context
from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error
from apps.customers.enums import Channel, OrderStatus
from apps.customers.exceptions import CustomerNotFound
from apps.customers.models import Order
from apps.customers.selectors import customer_get
from apps.loyalty.models import Programme
from apps.loyalty.selectors import accounts_brief, points_expiring_for

from ..forms_campaigns import CampaignForm, PreviewForm, VariantFormSet, variant_initial
from ._helpers import paginate
from .mixins import StaffRequiredMixin

VIEW = "campaigns.view_campaign"
PREVIEW_COUPON = "PREVIEW-0000"
VARIANT_PREFIX = "variants"

# One line on each name a message may use, in the editor's help panel.
CONTEXT_HELP = {
    "first_name": gettext_lazy("The member's first name (their nickname if they gave one)."),
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


def campaign_list(*, kind: str = "", status: str = ""):
    qs = Campaign.objects.select_related("segment").order_by("-created_at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def campaign_figures(*, campaign_ids: list[int]) -> dict[int, dict]:
    """Per campaign: messages placed and reached, and the conversions of the treated and the
    holdout — two grouped queries for a whole page of campaigns. Treated and holdout as in
    ``apps.campaigns.results`` (everyone drawn into a variant; everyone held out), a conversion
    an order not fully refunded within the window after the message (after placement when
    never sent)."""
    figures = {
        pk: {"placed": 0, "reached": 0, "treated": 0, "treated_conv": 0, "holdout": 0, "holdout_conv": 0}
        for pk in campaign_ids
    }
    if not campaign_ids:
        return figures
    reached = Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED])
    for row in (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(placed=Count("pk"), reached=Count("pk", filter=reached))
    ):
        figures[row["campaign_id"]].update(placed=row["placed"], reached=row["reached"])
    days = Coalesce(F("campaign__conversion_days"), Value(CampaignSettings.get().conversion_days))
    converted = Exists(
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            placed_at__gte=OuterRef("base"),
            placed_at__lt=OuterRef("until"),
        ).exclude(status=OrderStatus.REFUNDED)
    )
    rows = (
        Message.objects.filter(campaign_id__in=campaign_ids)
        .filter(Q(variant__isnull=False) | Q(status=MessageStatus.HOLDOUT))
        .annotate(
            base=Coalesce("sent_at", "created_at", output_field=DateTimeField()),
            window=ExpressionWrapper(days * Value(dt.timedelta(days=1)), DurationField()),
        )
        .annotate(until=ExpressionWrapper(F("base") + F("window"), DateTimeField()))
        .annotate(
            converted=converted,
            held=Case(
                When(status=MessageStatus.HOLDOUT, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values("campaign_id", "held")
        .annotate(members=Count("pk"), conversions=Count("pk", filter=Q(converted=True)))
    )
    for row in rows:
        group = "holdout" if row["held"] else "treated"
        figures[row["campaign_id"]][group] = row["members"]
        figures[row["campaign_id"]][f"{group}_conv"] = row["conversions"]
    for values in figures.values():
        for group in ("treated", "holdout"):
            n = values[group]
            values[f"{group}_rate"] = values[f"{group}_conv"] * 100 / n if n else None
        both = values["treated_rate"] is not None and values["holdout_rate"] is not None
        values["uplift"] = values["treated_rate"] - values["holdout_rate"] if both else None
    return figures


def customer_context(*, campaign: Campaign, customer, lang: str, channel: str) -> dict:
    """The sandbox context of a real member, as the sender builds it (a placeholder coupon code,
    as no coupon is issued for a preview; an unsubscribe link that goes nowhere)."""
    now = timezone.now()
    ids = [customer.pk]
    programme = Programme.get()
    coupon = None
    if campaign.offer_kind == OfferKind.COUPON:
        coupon = SimpleNamespace(
            code=PREVIEW_COUPON, kind=campaign.coupon_kind, value=campaign.coupon_value
        )
    return context_for(
        customer=customer,
        lang=lang,
        account=accounts_brief(customer_ids=ids).get(customer.pk),
        tier_names=tier_names(),
        expiring=points_expiring_for(
            customer_ids=ids, as_of=now, within_days=programme.reminder_days or 30
        ).get(customer.pk),
        coupon=coupon,
        bonus_points=campaign.bonus_points if campaign.offer_kind == OfferKind.BONUS_POINTS else 0,
        unsubscribe="" if channel == Channel.PORTAL else token_url("portal:unsubscribe", "preview"),
    )


# --- list ---------------------------------------------------------------------------------------


class CampaignListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/campaigns/list.html"

    def get_context_data(self, **kwargs):
        q = self.request.GET
        kind = q.get("kind", "") if q.get("kind", "") in CampaignKind.values else ""
        status = q.get("status", "") if q.get("status", "") in CampaignStatus.values else ""
        page = paginate(campaign_list(kind=kind, status=status), self.request)
        figures = campaign_figures(campaign_ids=[c.pk for c in page.object_list])
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


def progress(campaign: Campaign) -> dict:
    """Placed of the audience, and sent of what is to send (from the counts per status)."""
    counts = campaign_counts(campaign=campaign)
    placed = sum(counts.values())
    to_send = placed - counts.get(MessageStatus.SUPPRESSED, 0) - counts.get(MessageStatus.HOLDOUT, 0)
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


# --- preview and test send ----------------------------------------------------------------------


def rendered_for(campaign: Campaign, data: dict) -> dict:
    """The chosen variant rendered for the chosen member (or the sample member): ``rendered``,
    or ``error`` saying why not. Writes nothing."""
    out = {"error": "", "rendered": None, "customer": None, "variant": None}
    variants = list(campaign.variants.all())
    variant = next((v for v in variants if v.pk == data.get("variant")), None)
    variant = variant or (variants[0] if variants else None)
    if variant is None:
        out["error"] = _("The campaign has no variant yet.")
        return out
    channel = data["channel"]
    out["variant"], out["channel"] = variant, channel
    if data["member_number"]:
        try:
            customer = customer_get(member_number=data["member_number"])
        except CustomerNotFound as exc:
            out["error"] = exc.message
            return out
        lang = data.get("lang") or language_for(customer)
        context = customer_context(campaign=campaign, customer=customer, lang=lang, channel=channel)
        out["customer"] = customer
    else:
        lang = data.get("lang") or settings.LANGUAGE_CODE
        context = sample_context()
    out["lang"] = lang
    try:
        out["rendered"] = compose(
            campaign=campaign, variant=variant, channel=channel, lang=lang, context=context
        )
    except TemplateFailed as exc:
        out["error"] = _("The message cannot be rendered: %(error)s") % {"error": exc.reason}
    return out


def _preview_data(request) -> dict | None:
    form = PreviewForm(request.GET if request.method == "GET" else request.POST)
    return form.cleaned_data if form.is_valid() else None


class CampaignPreviewView(StaffRequiredMixin, View):
    """The preview partial (htmx): subject and text, and the e-mail framed from
    ``campaign-preview-email``."""

    permission_required = (VIEW, "customers.view_customer")

    def get(self, request, pk):
        campaign = campaign_or_404(pk)
        data = _preview_data(request)
        if data is None:
            context = {"error": _("Choose a variant and a channel.")}
        else:
            context = rendered_for(campaign, data)
        context.update(campaign=campaign, query=request.GET.urlencode())
        return render(request, "dashboard/campaigns/_preview.html", context)


@method_decorator(xframe_options_sameorigin, name="dispatch")
@method_decorator(
    csp_replace(
        {
            # The e-mail as members receive it, inline styles and all, in a sandboxed frame of
            # the preview: no script, no plugin, no form, nothing loaded from elsewhere.
            "default-src": [NONE],
            "script-src": [NONE],
            "style-src": [UNSAFE_INLINE],
            "img-src": [SELF, "data:"],
            "font-src": [NONE],
            "connect-src": [NONE],
            "form-action": [NONE],
            "frame-ancestors": [SELF],
            "sandbox": True,
        }
    ),
    name="dispatch",
)
class CampaignPreviewEmailView(StaffRequiredMixin, View):
    """The e-mail's HTML part alone, for the preview's sandboxed frame."""

    permission_required = (VIEW, "customers.view_customer")

    def get(self, request, pk):
        campaign = campaign_or_404(pk)
        data = _preview_data(request)
        result = rendered_for(campaign, {**data, "channel": Channel.EMAIL}) if data else None
        if result is None or result["rendered"] is None:
            return HttpResponse(status=204)
        response = HttpResponse(result["rendered"].html, content_type="text/html; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class CampaignTestSendView(StaffRequiredMixin, View):
    """Send the chosen variant, rendered for the chosen member (or the sample member), to the
    staff member's own address, by e-mail whatever the channel; "[Test] " before the subject.
    No campaign message is recorded. (A candidate for a service in apps.campaigns.)"""

    permission_required = ("campaigns.change_campaign", "customers.view_customer")

    def post(self, request, pk):
        campaign = campaign_or_404(pk)
        data = _preview_data(request)
        result = rendered_for(campaign, data) if data else {"error": _("Choose a variant.")}
        error = result["error"]
        if not error and not request.user.email:
            error = _("Your account has no e-mail address.")
        if not error:
            rendered = result["rendered"]
            subject = rendered.subject or (
                _("SMS: %(name)s") % {"name": campaign.name}
                if result["channel"] == Channel.SMS
                else str(campaign.name)
            )
            email = EmailMultiAlternatives(
                subject=f"[Test] {subject}",
                body=rendered.text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[request.user.email],
            )
            if rendered.html:
                email.attach_alternative(rendered.html, "text/html")
            try:
                email.send()
            except Exception as exc:  # the mail server's refusal, shown rather than a 500
                error = _("The test could not be sent: %(error)s") % {"error": exc}
        done = "" if error else _("Test sent to %(email)s.") % {"email": request.user.email}
        if request.headers.get("HX-Request") == "true":
            return render(
                request, "dashboard/campaigns/_test_sent.html", {"error": error, "done": done}
            )
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        back = reverse("dashboard:campaign-edit", args=[pk])
        if request.POST.get("next") != back:
            back = reverse("dashboard:campaign-detail", args=[pk])
        return redirect(back)
