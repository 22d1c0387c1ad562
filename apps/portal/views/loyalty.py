"""Member loyalty pages: points and tier, the rewards catalogue and redemptions, the coupon
wallet, referrals, and the public referral landing page. Views read through
``apps.loyalty.selectors`` and write through ``apps.loyalty.services``; every lookup is scoped
to the signed-in member, so another member's ids are simply not found (404)."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.core.exceptions import ApplicationError, NotFound
from apps.core.exports import csv_response, xlsx_response
from apps.core.forms import add_service_error
from apps.customers.selectors import customer_get_for_member, store_list_for_pickup
from apps.loyalty.describe import MEMBER, Target, describe
from apps.loyalty.enums import RedemptionStatus, RewardKind, TierMetric
from apps.loyalty.exceptions import RewardNotFound
from apps.loyalty.exports import points_history_export
from apps.loyalty.models import Programme
from apps.loyalty.selectors import (
    account_get,
    badge_list_for_member,
    coupon_wallet,
    points_summary,
    redemption_get_for_member,
    redemption_list_for_member,
    referral_code_get,
    referral_list_for_member,
    reward_get,
    reward_offers_for_member,
    transaction_list,
)
from apps.loyalty.services import (
    member_may_cancel,
    redemption_cancel_by_member,
    referral_code_for,
    reward_redeem,
)

from ..forms import REFERRAL_SESSION_KEY, PointsHistoryForm, RedeemForm
from . import member
from .mixins import MemberMixin

HISTORY_PAGE_SIZE = 25
EXPIRING_DAYS = 90
LOW_STOCK = 10  # "only N left" from this many units down
REDEMPTIONS_SHOWN = 100
REWARD_ICONS = {
    RewardKind.VOUCHER: "ticket-perforated",
    RewardKind.CASH_OFF: "cash-coin",
    RewardKind.PHYSICAL: "gift",
    RewardKind.EXPERIENCE: "stars",
    RewardKind.DONATION: "heart",
}


def qr_svg(value: str) -> str:
    # qrcode writes only path data for our own codes (coupon and voucher alphabets): no markup
    # from the value reaches the SVG.
    return mark_safe(member.member_qr_svg(value))  # noqa: S308 (qrcode SVG of our own codes)  # nosec B308 B703


def history_link(target: Target | None) -> str:
    """Where a history row leads a member: its redemption's page, the history of its order
    (earned, matured, refunded), or its badge on the points page."""
    if target is None:
        return ""
    if target.kind == "redemption":
        return reverse("portal:redemption-detail", args=[target.pk])
    if target.kind == "order":
        return f"{reverse('portal:points')}?{urlencode({'order': target.pk})}#history"
    if target.kind == "badge":
        return f"{reverse('portal:points')}#badge-{target.slug}"
    return ""


class PointsView(MemberMixin, TemplateView):
    """Balance, tier, expiring points, badges and the history in words, filtered by what
    happened and by dates (``PointsHistoryForm``; invalid filters show as field errors and
    an empty history, never everything), 25 rows a page, with CSV and Excel downloads."""

    template_name = "portal/points.html"
    nav = "points"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        summary = points_summary(customer=self.customer, expiring_days=EXPIRING_DAYS)
        current = summary.tier.benefit_list if summary.tier else []
        upcoming = summary.next_tier.benefit_list if summary.next_tier else []
        form = PointsHistoryForm(self.request.GET)
        valid = form.is_valid()
        rows = transaction_list(customer=self.customer, **(form.filters() if valid else {}))
        if not valid:
            rows = rows.none()  # a filter we cannot apply shows nothing rather than everything
        page = Paginator(rows, HISTORY_PAGE_SIZE).get_page(self.request.GET.get("page"))
        export_query = {k: v for k in form.fields if (v := self.request.GET.get(k))}
        history = [
            {"line": line, "url": history_link(line.target)}
            for line in describe(page.object_list, audience=MEMBER)
        ]
        order_id = form.cleaned_data.get("order") if valid else None
        context.update(
            form=form,
            history=history,
            # The order a row's link narrowed the history to, by its number.
            order_number=next(
                (r["line"].tx.order.external_id for r in history if r["line"].tx.order_id),
                "",
            )
            if order_id
            else "",
            export_query=urlencode(export_query) if valid else None,
            summary=summary,
            expiring_days=EXPIRING_DAYS,
            programme=Programme.get(),
            metric_is_spend=bool(summary.next_tier)
            and summary.next_tier.metric == TierMetric.SPEND,
            current_benefits=current,
            next_benefits=[b for b in upcoming if b not in current],
            badges=list(badge_list_for_member(customer=self.customer)),
            page_obj=page,
        )
        return context


class PointsExportView(MemberMixin, View):
    """The member's own points history, with the page's filters, as CSV or Excel; audited.
    Invalid filters lead back to the page, which shows why; never to a file of everything."""

    def get(self, request, fmt):
        if fmt not in ("csv", "xlsx"):
            raise Http404
        form = PointsHistoryForm(request.GET)
        if not form.is_valid():
            return redirect(f"{reverse('portal:points')}?{request.GET.urlencode()}#history")
        filename = f"points-{self.customer.member_number}-{timezone.localdate():%Y%m%d}"

        def write(header, rows):
            if fmt == "csv":
                return csv_response(filename=filename, header=header, rows=rows)
            title = _("Points history")
            return xlsx_response(filename=filename, title=title, header=header, rows=rows)

        return points_history_export(
            customer=self.customer,
            actor=request.user,
            filters=form.filters(),
            fmt=fmt,
            write=write,
        )


class RewardListView(MemberMixin, TemplateView):
    template_name = "portal/rewards.html"
    nav = "rewards"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = account_get(customer=self.customer)
        offers = [
            {
                "offer": offer,
                "icon": REWARD_ICONS.get(offer.reward.kind, "gift"),
                "low_stock": offer.reward.stock
                if offer.reward.stock is not None and 0 < offer.reward.stock <= LOW_STOCK
                else None,
            }
            for offer in reward_offers_for_member(customer=self.customer)
        ]
        context.update(
            balance=account.balance if account else 0,
            offers=offers,
            redemptions=list(
                redemption_list_for_member(customer=self.customer)[:REDEMPTIONS_SHOWN]
            ),
        )
        return context


class RewardRedeemView(MemberMixin, FormView):
    """GET: the confirmation with a fresh one-time key; POST: redeem once per key."""

    template_name = "portal/reward_redeem.html"
    form_class = RedeemForm
    nav = "rewards"

    def _load_reward(self):
        try:
            self.reward = reward_get(slug=self.kwargs["slug"])
        except RewardNotFound as exc:
            raise Http404 from exc

    def get(self, request, *args, **kwargs):
        self._load_reward()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self._load_reward()
        return super().post(request, *args, **kwargs)

    def get_initial(self):
        return {"key": uuid.uuid4()}

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if self.reward.kind in (RewardKind.PHYSICAL, RewardKind.EXPERIENCE):
            kwargs["stores"] = store_list_for_pickup()
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = account_get(customer=self.customer)
        balance = account.balance if account else 0
        offer = next(
            (
                o
                for o in reward_offers_for_member(customer=self.customer)
                if o.reward.pk == self.reward.pk
            ),
            None,
        )
        context.update(
            reward=self.reward,
            icon=REWARD_ICONS.get(self.reward.kind, "gift"),
            balance=balance,
            balance_after=balance - self.reward.cost_points,
            can_redeem=offer is not None and offer.can_redeem,
            reason=(offer.reason if offer else _("This reward is not available.")),
        )
        return context

    def form_valid(self, form):
        try:
            redemption = reward_redeem(
                customer=self.customer,
                reward=self.reward,
                quantity=1,
                key=f"portal:{self.customer.pk}:{form.cleaned_data['key']}",
                channel="portal",
                **form.handover_choice(),
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        if redemption.voucher_code:
            messages.success(self.request, _("Done! Your voucher is ready to use."))
        elif redemption.status == RedemptionStatus.REQUESTED:
            messages.success(
                self.request, _("Your request is in. We will let you know when it is ready.")
            )
        else:
            messages.success(self.request, _("Thank you! Your points have been redeemed."))
        return redirect("portal:redemption-detail", pk=redemption.pk)


class _RedemptionMixin(MemberMixin):
    nav = "rewards"

    def _load_redemption(self):
        try:
            self.redemption = redemption_get_for_member(
                customer=self.customer, pk=self.kwargs["pk"]
            )
        except NotFound as exc:
            raise Http404 from exc


class RedemptionDetailView(_RedemptionMixin, TemplateView):
    template_name = "portal/redemption_detail.html"

    def get(self, request, *args, **kwargs):
        self._load_redemption()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        redemption = self.redemption
        live_voucher = bool(redemption.voucher_code) and (
            redemption.status != RedemptionStatus.CANCELLED
        )
        context.update(
            redemption=redemption,
            coupon=getattr(redemption, "coupon", None) if redemption.voucher_code else None,
            voucher_qr=qr_svg(redemption.voucher_code) if live_voucher else "",
            can_cancel=member_may_cancel(redemption),
        )
        return context


class RedemptionCancelView(_RedemptionMixin, TemplateView):
    """GET: are you sure? POST: cancel and give the points back."""

    template_name = "portal/redemption_cancel.html"

    def _refuse(self, text: str):
        messages.error(self.request, text)
        return redirect("portal:redemption-detail", pk=self.redemption.pk)

    def get(self, request, *args, **kwargs):
        self._load_redemption()
        if not member_may_cancel(self.redemption):
            return self._refuse(_("This redemption can no longer be cancelled."))
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self._load_redemption()
        try:
            redemption = redemption_cancel_by_member(
                customer=self.customer, redemption=self.redemption
            )
        except ApplicationError as exc:
            return self._refuse(exc.message)
        messages.success(
            request,
            _("Cancelled. %(points)s points are back in your balance.")
            % {"points": number_format(redemption.points, force_grouping=True)},
        )
        return redirect("portal:redemption-detail", pk=redemption.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["redemption"] = self.redemption
        return context


class CouponListView(MemberMixin, TemplateView):
    template_name = "portal/coupons.html"
    nav = "coupons"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        wallet = coupon_wallet(customer=self.customer)
        context.update(
            # Only usable coupons get a scannable code.
            active=[{"coupon": c, "qr": qr_svg(c.code)} for c in wallet.active],
            used=[{"coupon": c} for c in wallet.used],
            expired=[{"coupon": c} for c in wallet.expired],
            now=timezone.now(),
        )
        return context


class ReferralsView(MemberMixin, TemplateView):
    template_name = "portal/referrals.html"
    nav = "referrals"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        code = referral_code_for(customer=self.customer)  # created on first visit
        context.update(
            code=code.code,
            share_url=self.request.build_absolute_uri(
                reverse("portal:referral-landing", args=[code.code])
            ),
            programme=Programme.get(),
            referrals=list(referral_list_for_member(customer=self.customer)),
        )
        return context


class ReferralLandingView(TemplateView):
    """Public: a friend's invitation. The code waits in the session for the join page."""

    template_name = "portal/referral_landing.html"

    def get(self, request, *args, **kwargs):
        self.found = referral_code_get(code=kwargs["code"])
        if self.found is None:
            raise Http404
        self.member = customer_get_for_member(user=request.user)
        if self.member is None:  # members have joined already: nothing to remember
            request.session[REFERRAL_SESSION_KEY] = self.found.code
        response = super().get(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            referrer_name=self.found.customer.first_name,
            code=self.found.code,
            programme=Programme.get(),
            member=self.member,
            own_code=self.member is not None and self.member.pk == self.found.customer_id,
        )
        return context
