"""A campaign's preview and test send: the chosen variant rendered by ``apps.campaigns.composer``
with a real member's data (their name, points, tier and expiring points, read as the sender
reads them) or the sample member, shown as text and as the e-mail in a sandboxed frame; and the
same sent to the staff member's own address. Nothing is written: no campaign message, no
coupon (a placeholder code stands in), no unsubscribe link that works.

The test send is a plain Django e-mail from the view, for now: a candidate for a small service
in ``apps.campaigns``."""

from types import SimpleNamespace

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.mail import EmailMultiAlternatives
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin

from apps.campaigns.composer import compose, context_for, language_for, token_url
from apps.campaigns.enums import OfferKind
from apps.campaigns.models import Campaign
from apps.campaigns.services.delivery import tier_names
from apps.campaigns.templating import TemplateFailed, sample_context
from apps.customers.enums import Channel
from apps.customers.exceptions import CustomerNotFound
from apps.customers.selectors import customer_get
from apps.loyalty.models import Programme
from apps.loyalty.selectors import accounts_brief, points_expiring_for

from ..forms_campaigns import PreviewForm
from .campaigns import VIEW, campaign_or_404
from .mixins import StaffRequiredMixin

PREVIEW_COUPON = "PREVIEW-0000"


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
