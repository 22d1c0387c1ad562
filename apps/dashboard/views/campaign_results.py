"""A campaign's page (/staff/campaigns/<pk>/): status and actions, the progress of a running send,
settings, variants, and the results against the holdout from ``apps.campaigns.results``; its
messages (filtered, paged); CSV / Excel exports of the results (one row per group) and of the
messages. Figures are worded here (percentages, verdicts, labels), never computed: the
statistics are ``apps.campaigns.stats``."""

from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views import View
from django.views.generic import TemplateView

from apps.campaigns.enums import (
    CampaignKind,
    CampaignStatus,
    MessageStatus,
    OfferKind,
    Suppression,
)
from apps.campaigns.exports import campaign_export_record
from apps.campaigns.models import Message
from apps.campaigns.results import Results, campaign_results, conversion_window
from apps.core.exports import (
    csv_response,
    money_cell,
    money_header,
    xlsx_response,
    yes_no,
)
from apps.core.formatting import currency_symbol, number
from apps.customers.enums import Channel
from apps.loyalty.enums import CouponKind

from ..forms_campaigns import PreviewForm
from ._helpers import paginate
from .campaigns import VIEW, campaign_or_404, progress
from .export_jobs import SourceExportView
from .mixins import StaffRequiredMixin

RESULTS = "campaigns.view_campaign_results"
MESSAGE_FIELDS = (
    "pk",
    "status",
    "reason",
    "channel",
    "error",
    "created_at",
    "sent_at",
    "delivered_at",
    "opened_at",
    "clicked_at",
    "unsubscribed_at",
    "variant__label",
    "customer__member_number",
    "customer__first_name",
    "customer__last_name",
    "customer__email",
    "customer__anonymized_at",
)


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def _amount(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _signed(value: float | None) -> str:
    return "" if value is None else number(value, places=1, signed=True)


def p_text(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict(test) -> str:
    """A test's outcome in words."""
    if not test.enough_data:
        return _("Not enough data yet")
    return _("Significant at 95%") if test.significant else _("Not significant yet")


def _conversion(test) -> dict:
    return {
        "treated": _pct(test.treated_rate),
        "control": _pct(test.control_rate),
        "difference": _pct(test.difference),
        "low": _pct(test.ci_low),
        "high": _pct(test.ci_high),
        "relative": _pct(test.relative),
        "difference_text": _signed(_pct(test.difference)),
        "low_text": _signed(_pct(test.ci_low)),
        "high_text": _signed(_pct(test.ci_high)),
        "relative_text": _signed(_pct(test.relative)),
        "p": p_text(test.p_value),
        "significant": test.significant,
        "verdict": verdict(test),
    }


def _revenue(test) -> dict:
    return {
        "difference": _amount(test.difference),
        "low": _amount(test.ci_low),
        "high": _amount(test.ci_high),
        "p": p_text(test.p_value),
        "significant": test.significant,
        "verdict": verdict(test),
    }


def results_figures(results: Results) -> dict:
    """What the results panel shows, worded: the funnel, suppressions by reason, conversion and
    revenue per member against the holdout, each variant, costs and ROI, and the charts' data."""
    by_status = results.by_status
    placed = sum(by_status.values())
    funnel = [
        (pgettext("campaign", "Placed"), placed),
        (_("Held out"), by_status.get(MessageStatus.HOLDOUT, 0)),
        (_("Suppressed"), by_status.get(MessageStatus.SUPPRESSED, 0)),
        (_("Reached"), results.reached),
        (_("Delivered"), results.delivered),
        (_("Opened"), results.opened),
        (_("Clicked"), results.clicked),
        (_("Unsubscribed"), results.unsubscribed),
    ]
    reasons = dict(Suppression.choices)
    variants = [
        {
            "label": v.group.label,
            "members": v.group.members,
            "conversions": v.group.conversions,
            "rate": _pct(v.group.conversion_rate),
            "revenue_per_member": v.group.revenue_per_member,
            "conversion": _conversion(v.conversion),
            "revenue": _revenue(v.revenue),
            "winner": v.group.label == results.winner,
        }
        for v in results.variants
    ]
    groups = [
        (_("Holdout"), results.holdout),
        (_("Treated"), results.treated),
        *((_("Variant %(label)s") % {"label": v.group.label}, v.group) for v in results.variants),
    ]
    return {
        "funnel": funnel,
        "failed": by_status.get(MessageStatus.FAILED, 0),
        "queued": by_status.get(MessageStatus.QUEUED, 0),
        "reasons": sorted(
            ((str(reasons.get(code, code)), n) for code, n in results.by_reason.items()),
            key=lambda item: -item[1],
        ),
        "channels": [
            (label, results.by_channel[code])
            for code, label in Channel.choices
            if results.by_channel.get(code)
        ],
        "conversion": _conversion(results.conversion),
        "revenue": _revenue(results.revenue),
        "variants": variants,
        "roi": None if results.roi is None else float(results.roi) * 100,
        "funnel_chart": {
            "labels": [str(label) for label, _n in funnel],
            "datasets": [{"label": _("Members"), "data": [n for _label, n in funnel]}],
        },
        "groups_chart": {
            "labels": [str(label) for label, _group in groups],
            "conversion": [
                round(g.conversion_rate * 100, 2) if g.conversion_rate is not None else None
                for _label, g in groups
            ],
            "revenue": [float(g.revenue_per_member) for _label, g in groups],
            "conversion_label": _("Conversion (%)"),
            "revenue_label": _("Revenue per member (%(currency)s)")
            % {"currency": currency_symbol().strip()},
        },
    }


def offer_text(campaign) -> str:
    """The offer in words ("Percent off 15 · min. spend ¥100 · 30 days")."""
    if campaign.offer_kind == OfferKind.COUPON:
        kind = dict(CouponKind.choices).get(campaign.coupon_kind, "")
        return _("%(kind)s coupon, valid %(days)s days") % {
            "kind": kind,
            "days": campaign.coupon_valid_days,
        }
    if campaign.offer_kind == OfferKind.BONUS_POINTS:
        return _("%(n)s bonus points") % {"n": campaign.bonus_points}
    if campaign.offer_kind == OfferKind.MULTIPLIER:
        return _("Points ×%(factor)s for %(days)s days") % {
            "factor": f"{campaign.multiplier.normalize():f}",
            "days": campaign.multiplier_days,
        }
    return str(campaign.get_offer_kind_display())


class CampaignDetailView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/campaigns/detail.html"

    def get_context_data(self, **kwargs):
        campaign = campaign_or_404(self.kwargs["pk"])
        user = self.request.user
        results = None
        if campaign.started_at is not None and user.has_perm(RESULTS):
            results = campaign_results(campaign=campaign)
        channels = dict(Channel.choices)
        return super().get_context_data(
            campaign=campaign,
            variants=list(campaign.variants.all()),
            channel_labels=[channels.get(c, c) for c in campaign.channels],
            offer=offer_text(campaign),
            window=results.window_days if results else conversion_window(campaign),
            progress=progress(campaign, results.by_status if results else None)
            if campaign.started_at
            else None,
            results=results,
            figures=results_figures(results) if results and results.by_status else None,
            preview_form=PreviewForm(initial={"channel": (campaign.channels or ["email"])[0]}),
            is_broadcast=campaign.kind == CampaignKind.BROADCAST,
            running=campaign.status == CampaignStatus.RUNNING,
            **kwargs,
        )


# --- messages -----------------------------------------------------------------------------------


def message_list(*, campaign, status="", channel="", reason="", variant=None):
    """A campaign's messages, newest first, with the customer and variant they need (a read
    to move into apps.campaigns.selectors)."""
    qs = (
        Message.objects.filter(campaign=campaign)
        .select_related("customer", "variant")
        .only(*(f for f in MESSAGE_FIELDS if f != "pk"))
        .order_by("-created_at", "-pk")
    )
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    if reason:
        qs = qs.filter(reason=reason)
    if variant:
        qs = qs.filter(variant_id=variant)
    return qs


def _message_filters(request, variants) -> dict:
    q = request.GET
    variant = q.get("variant", "")
    return {
        "status": q.get("status", "") if q.get("status", "") in MessageStatus.values else "",
        "channel": q.get("channel", "") if q.get("channel", "") in Channel.values else "",
        "reason": q.get("reason", "") if q.get("reason", "") in Suppression.values else "",
        "variant": int(variant) if variant.isdigit() and int(variant) in variants else None,
    }


class CampaignMessagesView(StaffRequiredMixin, TemplateView):
    permission_required = (VIEW, "campaigns.view_message")
    template_name = "dashboard/campaigns/messages.html"

    def get_context_data(self, **kwargs):
        campaign = campaign_or_404(self.kwargs["pk"])
        variants = {v.pk: v.label for v in campaign.variants.all()}
        filters = _message_filters(self.request, variants)
        page = paginate(message_list(campaign=campaign, **filters), self.request)
        return super().get_context_data(
            campaign=campaign,
            page_obj=page,
            filters=filters,
            variants=sorted(variants.items(), key=lambda item: item[1]),
            statuses=MessageStatus.choices,
            channels=Channel.choices,
            reasons=Suppression.choices,
            **kwargs,
        )


# --- exports ------------------------------------------------------------------------------------


def _fmt(fmt: str) -> str:
    if fmt not in ("csv", "xlsx"):
        raise Http404
    return fmt


def _write(fmt: str, *, filename: str, title: str, header: list[str], rows):
    if fmt == "csv":
        return csv_response(filename=filename, header=header, rows=rows)
    return xlsx_response(filename=filename, title=title, header=header, rows=rows)


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def results_table(results: Results) -> tuple[list[str], list[list]]:
    """One row per group (holdout, all treated, each variant) with every figure."""
    header = [
        _("Group"),
        _("Members"),
        _("Conversions"),
        _("Conversion rate (%)"),
        _("Uplift vs holdout (percentage points)"),
        _("95% interval, low"),
        _("95% interval, high"),
        _("p-value"),
        _("Significant at 95%"),
        money_header(_("Revenue")),
        money_header(_("Revenue per member")),
        money_header(_("Difference per member vs holdout")),
        money_header(_("95% interval, low")),
        money_header(_("95% interval, high")),
        _("p-value (revenue)"),
        _("Winner"),
    ]
    rows = [
        [_("Holdout"), results.holdout.members, results.holdout.conversions]
        + [_round(_pct(results.holdout.conversion_rate))]
        + [None] * 5
        + [money_cell(results.holdout.revenue), money_cell(results.holdout.revenue_per_member)]
        + [None] * 5
    ]
    groups = [(_("Treated"), results.treated, results.conversion, results.revenue, None)]
    groups += [
        (
            _("Variant %(label)s") % {"label": v.group.label},
            v.group,
            v.conversion,
            v.revenue,
            yes_no(v.group.label == results.winner) if len(results.variants) > 1 else None,
        )
        for v in results.variants
    ]
    for name, group, conversion, revenue, winner in groups:
        rows.append(
            [
                name,
                group.members,
                group.conversions,
                _round(_pct(group.conversion_rate)),
                _round(_pct(conversion.difference)),
                _round(_pct(conversion.ci_low)),
                _round(_pct(conversion.ci_high)),
                _round(conversion.p_value, 4),
                yes_no(conversion.significant) if conversion.enough_data else None,
                money_cell(group.revenue),
                money_cell(group.revenue_per_member),
                money_cell(_amount(revenue.difference)),
                money_cell(_amount(revenue.ci_low)),
                money_cell(_amount(revenue.ci_high)),
                _round(revenue.p_value, 4),
                winner,
            ]
        )
    return header, rows


class CampaignResultsExportView(StaffRequiredMixin, View):
    permission_required = (VIEW, RESULTS)

    def get(self, request, pk, fmt):
        fmt = _fmt(fmt)
        campaign = campaign_or_404(pk)
        header, rows = results_table(campaign_results(campaign=campaign))
        campaign_export_record(
            actor=request.user, campaign=campaign, what="campaign", fmt=fmt, rows=len(rows)
        )
        return _write(
            fmt,
            filename=f"campaign-{campaign.pk}-results-{timezone.localdate():%Y%m%d}",
            title=_("Campaign results"),
            header=header,
            rows=rows,
        )


class CampaignMessagesExportView(SourceExportView):
    kind = "campaign_messages"

    def get(self, request, pk, fmt):
        campaign_or_404(pk)
        return super().get(request, fmt=fmt, pk=pk)
