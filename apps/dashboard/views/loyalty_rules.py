"""Staff pages for earn rules: list, create, edit, switch off, and the live preview of what an
example basket earns. Views validate, call a selector or service, and render; every rule lives
in ``apps.loyalty``."""

from decimal import Decimal

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.loyalty.models import EarnRule, Tier
from apps.loyalty.rules import LineFacts, Miss, OrderFacts
from apps.loyalty.services.configuration import (
    earn_rule_create,
    earn_rule_deactivate,
    earn_rule_update,
)
from apps.loyalty.services.earning import earn_rule_trial
from apps.loyalty.staff_selectors import earn_rule_list

from ..forms_loyalty import EarnPreviewForm, EarnRuleForm
from ..list_filters import earn_rule_active_param
from ._helpers import paginate
from .export_jobs import SourceExportView
from .form_page import FormPageView
from .mixins import StaffRequiredMixin


class EarnRuleListView(StaffRequiredMixin, TemplateView):
    permission_required = "loyalty.view_earnrule"
    template_name = "dashboard/loyalty/rules.html"

    def get_context_data(self, **kwargs):
        active = earn_rule_active_param(self.request.GET)
        return super().get_context_data(
            page_obj=paginate(earn_rule_list(active=active), self.request), active=active, **kwargs
        )


class EarnRuleExportView(SourceExportView):
    kind = "earn_rules"


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
            store = data["store"]
            facts = OrderFacts(
                total=data["amount"],
                placed_at=data["placed_at"] or timezone.now(),
                store_id=store.pk if store else None,
                channel=data["channel"],
                lines=(
                    LineFacts(sku=data["sku"], category=data["category"], amount=data["amount"]),
                ),
                tier_id=tier.pk if tier else None,
                tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
                first_purchase=data["first_purchase"],
            )
            draft, draft_tiers = None, ()
            if rule_form.is_valid():
                draft = rule_form.save(commit=False)
                rule_id = request.POST.get("rule_id", "")
                draft.pk = int(rule_id) if rule_id.isdigit() else -1
                draft_tiers = {t.pk for t in rule_form.cleaned_data.get("tiers", [])}
            else:
                context["rule_errors"] = True
            trial = earn_rule_trial(facts=facts, draft=draft, draft_tier_ids=draft_tiers)
            context.update(
                current=trial.current,
                result=trial.result,
                reasons=[miss_text(miss) for miss in trial.misses],
            )
        return self.render_to_response(context)


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _money(value) -> str:
    return formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def miss_text(miss: Miss) -> str:
    """A reason the rule did not apply (``apps.loyalty.rules.Miss``), in the reader's language."""
    p = miss.params
    texts = {
        "inactive": lambda: _("The rule is switched off."),
        "not_started": lambda: (
            _("The purchase is before the rule starts (%(when)s).")
            % {"when": _when(p["starts_at"])}
        ),
        "ended": lambda: (
            _("The purchase is after the rule ended (%(when)s).") % {"when": _when(p["ends_at"])}
        ),
        "tier": lambda: (
            _("Only for members in %(tiers)s; the basket's member is not.")
            % {"tiers": ", ".join(p["tiers"])}
        ),
        "store": lambda: _("Only for purchases at %(store)s.") % {"store": p["store"]},
        "channel": lambda: (
            _("Only for purchases through the %(channel)s channel.") % {"channel": p["channel"]}
        ),
        "segment": lambda: _("Segment-limited rules cannot be previewed yet."),
        "condition": lambda: (
            _("A condition of the rule is not met (%(name)s).") % {"name": p["name"]}
        ),
        "no_target": lambda: _("The rule has no target for its kind, so it matches nothing."),
        "category": lambda: (
            _("No item of the basket is in the category “%(category)s”.")
            % {"category": p["category"]}
        ),
        "sku": lambda: _("No item of the basket has the SKU “%(sku)s”.") % {"sku": p["sku"]},
        "promotion_window": lambda: _("A promotion needs both a start and an end."),
        "event_only": lambda: (
            _("Event bonuses are awarded for the event (%(event)s), never on purchases.")
            % {"event": p["event"]}
        ),
        "no_bonus": lambda: _("A bonus rule without bonus points adds nothing."),
        "not_first_purchase": lambda: _("Only for a member's first purchase."),
        "min_spend": lambda: (
            _("The basket is below the minimum spend of %(min_spend)s: %(missing)s more needed.")
            % {"min_spend": _money(p["min_spend"]), "missing": _money(p["missing"])}
        ),
        "outranked": lambda: (
            _("“%(rule)s” comes first by priority and does not stack, so it stops this rule.")
            % {"rule": p["rule"]}
        ),
        "not_alone": lambda: (
            _("This rule does not stack, and higher-priority rules already apply: %(rules)s.")
            % {"rules": ", ".join(p["rules"])}
        ),
    }
    text = texts.get(miss.code)
    return text() if text is not None else miss.code
