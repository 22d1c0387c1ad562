"""Staff pages for the programme's configuration: settings, earn rules (with a live preview),
tiers, rewards and stock, the redemption fulfilment queue and coupon batches. Views validate,
call a selector or service, and render; every rule lives in ``apps.loyalty``."""

from decimal import Decimal

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.core.exports import csv_response, xlsx_response
from apps.loyalty.enums import RedemptionStatus, RewardKind
from apps.loyalty.exports import coupon_batch_export
from apps.loyalty.models import CouponBatch, EarnRule, Programme, Reward, Tier
from apps.loyalty.rules import LineFacts, OrderFacts, compute_earn
from apps.loyalty.services import (
    coupon_batch_create,
    redemption_cancel,
    redemption_fulfil,
    tier_create,
)
from apps.loyalty.services.configuration import (
    earn_rule_create,
    earn_rule_deactivate,
    earn_rule_update,
    programme_update,
    reward_create,
    reward_restock,
    reward_update,
    tier_update,
)
from apps.loyalty.staff_selectors import (
    coupon_batch_list,
    earn_rule_list,
    fulfilment_queue,
    reward_list_for_staff,
    tier_list_with_members,
    tier_new_defaults,
)

from ..forms_loyalty import (
    CancelRedemptionForm,
    CouponBatchForm,
    EarnPreviewForm,
    EarnRuleForm,
    FulfilForm,
    ProgrammeForm,
    RestockForm,
    RewardCreateForm,
    RewardForm,
    TierForm,
)
from ._helpers import paginate
from .mixins import StaffRequiredMixin

FORM_TEMPLATE = "dashboard/loyalty/form.html"


def service_error(form, exc: ApplicationError) -> None:
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


class FormPageView(StaffRequiredMixin, TemplateView):
    """GET shows the form; POST validates and hands ``cleaned_data`` to ``save``. A refusal from
    the service shows on the form and nothing changes."""

    template_name = FORM_TEMPLATE
    form_class = None
    title = ""
    submit_label = gettext_lazy("Save")
    success_message = gettext_lazy("Saved.")
    multipart = False

    def get_form_kwargs(self) -> dict:
        return {}

    def get_form(self, data=None, files=None):
        return self.form_class(data, files, **self.get_form_kwargs())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.get_form())
        context.update(
            title=self.title,
            submit_label=self.submit_label,
            cancel_url=self.get_cancel_url(),
            multipart=self.multipart,
        )
        return context

    def get_cancel_url(self) -> str:
        return self.get_success_url()

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST, request.FILES)
        if form.is_valid():
            try:
                self.save(form)
            except ApplicationError as exc:
                service_error(form, exc)
            else:
                messages.success(request, self.success_message)
                return redirect(self.get_success_url())
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def save(self, form) -> None:
        raise NotImplementedError

    def get_success_url(self) -> str:
        raise NotImplementedError


# --- programme ---------------------------------------------------------------------------------


class ProgrammeEditView(FormPageView):
    permission_required = "loyalty.change_programme"
    form_class = ProgrammeForm
    title = gettext_lazy("Programme settings")
    success_message = gettext_lazy("Programme settings saved.")

    def get_form_kwargs(self):
        return {"instance": Programme.get()}

    def save(self, form):
        programme_update(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-programme")


# --- earn rules --------------------------------------------------------------------------------


class EarnRuleListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_earnrule"
    template_name = "dashboard/loyalty/rules.html"

    def get_context_data(self, **kwargs):
        active = self.request.GET.get("active", "")
        return super().get_context_data(
            page_obj=paginate(earn_rule_list(active=active), self.request), active=active, **kwargs
        )


class EarnRuleCreateView(FormPageView):
    permission_required = "loyalty.add_earnrule"
    form_class = EarnRuleForm
    template_name = "dashboard/loyalty/rule_form.html"
    title = gettext_lazy("New earn rule")
    success_message = gettext_lazy("Earn rule created.")

    def get_context_data(self, **kwargs):
        return super().get_context_data(preview_form=EarnPreviewForm(prefix="preview"), **kwargs)

    def save(self, form):
        data = dict(form.cleaned_data)
        tiers = list(data.pop("tiers", []))
        earn_rule_create(actor=self.request.user, tiers=tiers, **data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-rule-list")


class EarnRuleEditView(EarnRuleCreateView):
    permission_required = "loyalty.change_earnrule"
    title = gettext_lazy("Edit earn rule")
    success_message = gettext_lazy("Earn rule saved.")

    def dispatch(self, request, *args, **kwargs):
        self.rule = get_object_or_404(EarnRule, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {"instance": self.rule}

    def get_context_data(self, **kwargs):
        return super().get_context_data(rule=self.rule, **kwargs)

    def save(self, form):
        data = dict(form.cleaned_data)
        tiers = list(data.pop("tiers", []))
        earn_rule_update(rule=self.rule, actor=self.request.user, tiers=tiers, **data)


class EarnRuleDeactivateView(StaffRequiredMixin, View):
    permission_required = "loyalty.change_earnrule"

    def post(self, request, pk):
        rule = get_object_or_404(EarnRule, pk=pk)
        earn_rule_deactivate(rule=rule, actor=request.user)
        messages.success(request, _("“%(name)s” is switched off.") % {"name": rule.name})
        return redirect("dashboard:loyalty-rule-list")


class EarnRulePreviewView(StaffRequiredMixin, TemplateView):
    """htmx: the points an example basket earns with the rules as they are now, and with the
    rule being edited as typed (not saved). Pure computation, nothing is written."""

    permission_required = "loyalty.view_earnrule"
    template_name = "dashboard/loyalty/_rule_preview.html"

    def post(self, request, *args, **kwargs):
        basket = EarnPreviewForm(request.POST, prefix="preview")
        rule_form = EarnRuleForm(request.POST)
        context = {"basket": basket, "result": None}
        if basket.is_valid():
            data = basket.cleaned_data
            tier: Tier | None = data["tier"]
            facts = OrderFacts(
                total=data["amount"],
                placed_at=timezone.now(),
                store_id=None,
                channel="",
                lines=(
                    LineFacts(sku=data["sku"], category=data["category"], amount=data["amount"]),
                ),
                tier_id=tier.pk if tier else None,
                tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
                first_purchase=data["first_purchase"],
            )
            rules = list(EarnRule.objects.filter(is_active=True).prefetch_related("tiers"))
            rule_tiers = {r.pk: {t.pk for t in r.tiers.all()} for r in rules}
            rate = Programme.get().points_per_currency_unit
            context["current"] = compute_earn(
                facts=facts, rate=rate, rules=rules, rule_tiers=rule_tiers
            )
            if rule_form.is_valid():
                draft = rule_form.save(commit=False)
                draft.pk = int(request.POST.get("rule_id") or 0) or -1
                others = [r for r in rules if r.pk != draft.pk]
                rule_tiers[draft.pk] = {t.pk for t in rule_form.cleaned_data.get("tiers", [])}
                context["result"] = compute_earn(
                    facts=facts, rate=rate, rules=[*others, draft], rule_tiers=rule_tiers
                )
            else:
                context["rule_errors"] = True
        return self.render_to_response(context)


# --- tiers -------------------------------------------------------------------------------------


class TierListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_tier"
    template_name = "dashboard/loyalty/tiers.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(tiers=list(tier_list_with_members()), **kwargs)


class TierCreateForm(TierForm):
    """The edit form plus the two values fixed at creation: the code (the API and reports name
    the tier by it) and the rank (its place on the ladder)."""

    class Meta(TierForm.Meta):
        fields = ["name", "slug", "rank", *[f for f in TierForm.Meta.fields if f != "name"]]


class TierCreateView(FormPageView):
    permission_required = "loyalty.add_tier"
    form_class = TierCreateForm
    title = gettext_lazy("New tier")
    submit_label = gettext_lazy("Create tier")
    success_message = gettext_lazy("Tier created.")

    def get_form_kwargs(self):
        return {"initial": tier_new_defaults()}

    def save(self, form):
        tier_create(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-tier-list")


class TierEditView(FormPageView):
    permission_required = "loyalty.change_tier"
    form_class = TierForm
    success_message = gettext_lazy("Tier saved.")

    def dispatch(self, request, *args, **kwargs):
        self.tier = get_object_or_404(Tier, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Edit tier %(name)s") % {"name": self.tier.name}

    def get_form_kwargs(self):
        return {"instance": self.tier}

    def save(self, form):
        tier_update(tier=self.tier, actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-tier-list")


# --- rewards -----------------------------------------------------------------------------------


class RewardListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_reward"
    template_name = "dashboard/loyalty/rewards.html"

    def get_context_data(self, **kwargs):
        query = self.request.GET.get("q", "").strip()[:100]
        kind = self.request.GET.get("kind", "")
        kind = kind if kind in RewardKind.values else ""
        return super().get_context_data(
            page_obj=paginate(reward_list_for_staff(query=query, kind=kind), self.request),
            query=query,
            kind=kind,
            kinds=RewardKind.choices,
            **kwargs,
        )


class RewardCreateView(FormPageView):
    permission_required = "loyalty.add_reward"
    form_class = RewardCreateForm
    title = gettext_lazy("New reward")
    success_message = gettext_lazy("Reward created.")
    multipart = True

    def save(self, form):
        reward_create(actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")


class RewardEditView(FormPageView):
    permission_required = "loyalty.change_reward"
    form_class = RewardForm
    success_message = gettext_lazy("Reward saved.")
    multipart = True

    def dispatch(self, request, *args, **kwargs):
        self.reward = get_object_or_404(Reward, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Edit reward %(name)s") % {"name": self.reward.name}

    def get_form_kwargs(self):
        return {"instance": self.reward}

    def save(self, form):
        reward_update(reward=self.reward, actor=self.request.user, **form.cleaned_data)

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")


class RewardRestockView(FormPageView):
    permission_required = "loyalty.change_reward"
    form_class = RestockForm
    submit_label = gettext_lazy("Update stock")
    success_message = gettext_lazy("Stock updated.")

    def dispatch(self, request, *args, **kwargs):
        self.reward = get_object_or_404(Reward, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def title(self):
        return _("Stock of %(name)s") % {"name": self.reward.name}

    def get_context_data(self, **kwargs):
        stock = self.reward.stock
        subtitle = (
            _("Unlimited") if stock is None else _("%(n)s in stock now") % {"n": f"{stock:,}"}
        )
        return super().get_context_data(subtitle=subtitle, **kwargs)

    def save(self, form):
        reward_restock(
            reward=self.reward,
            actor=self.request.user,
            add=form.cleaned_data.get("add"),
            unlimited=form.cleaned_data.get("unlimited", False),
        )

    def get_success_url(self):
        return reverse("dashboard:loyalty-reward-list")


# --- redemption fulfilment ---------------------------------------------------------------------


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


# --- coupon batches ----------------------------------------------------------------------------


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
        table = coupon_batch_export(actor=request.user, batch=batch, fmt=fmt)
        filename = f"coupons-{batch.pk}-{timezone.localdate():%Y%m%d}"
        if fmt == "csv":
            return csv_response(filename=filename, header=table.header, rows=table.rows)
        return xlsx_response(
            filename=filename, title=batch.name, header=table.header, rows=table.rows
        )
