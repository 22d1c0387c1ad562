"""Forms of the staff loyalty pages: they check the shape of the input; the loyalty services
decide and write."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.content import content_label, content_languages, localized_fields
from apps.customers.enums import OrderChannel
from apps.customers.models import Store
from apps.loyalty.enums import CouponKind
from apps.loyalty.models import CouponBatch, EarnRule, Programme, Reward, Tier
from apps.loyalty.services.configuration import (
    EARN_RULE_FIELDS,
    EARN_RULE_KIND_FIELDS,
    PROGRAMME_FIELDS,
    PROGRAMME_POLICY_FIELDS,
    REWARD_FIELDS,
    REWARD_KIND_FIELDS,
    TIER_FIELDS,
    earn_rule_problems,
    reward_problems,
)

from .form_layout import LayoutMixin

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class BootstrapMixin(LayoutMixin):
    """Bootstrap 5 classes on every widget, so templates render fields without per-field markup;
    sections, side-by-side languages and kind-dependent fields from ``LayoutMixin``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            widget = f.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class ProgrammeForm(BootstrapMixin, forms.ModelForm):
    sections = [
        (_("Programme"), None, ["name", "points_per_currency_unit", "point_value"]),
        (
            _("Expiry"),
            _("When earned points lapse, and how long before members are reminded."),
            ["expiry_policy", "expiry_months", "expiry_years", "reminder_days"],
        ),
        (
            _("Bonuses"),
            _("Points awarded for joining, birthdays and referrals (0 = none)."),
            ["signup_bonus", "birthday_bonus", "referrer_bonus", "referee_bonus"],
        ),
        (
            _("Rules"),
            _(
                "Days before purchase points become spendable, tier grace, and the largest "
                "adjustment staff may make without approval."
            ),
            ["pending_days", "tier_grace_days", "adjustment_limit"],
        ),
        (
            _("Surveys"),
            _("The least time between two survey invitations to the same member."),
            ["survey_cooldown_days"],
        ),
    ]
    depends_on = ("expiry_policy", PROGRAMME_POLICY_FIELDS)

    class Meta:
        model = Programme
        fields = PROGRAMME_FIELDS


class EarnRuleForm(BootstrapMixin, forms.ModelForm):
    """The rule's fields; what each kind needs is the loyalty service's check
    (``earn_rule_problems``), shown here on the field it concerns. Only the fields the chosen
    kind uses are shown (``EARN_RULE_KIND_FIELDS``)."""

    sections = [
        (None, None, ["name", "kind"]),
        (
            _("What it gives"),
            None,
            ["multiplier", "bonus_points", "category", "sku", "event", "min_spend"],
        ),
        (
            _("Where and when"),
            _("Leave empty to apply everywhere and always."),
            ["store", "channel", "tiers", "segment", "starts_at", "ends_at"],
        ),
        (_("Order of rules"), None, ["priority", "stackable", "is_active"]),
    ]
    depends_on = ("kind", EARN_RULE_KIND_FIELDS)

    class Meta:
        model = EarnRule
        fields = [*EARN_RULE_FIELDS, "tiers"]
        widgets = {"starts_at": DATETIME, "ends_at": DATETIME}
        help_texts = {
            "kind": _(
                "Multipliers (category, product, store, channel, promotion) scale the points of "
                "the spend they match; bonuses (first purchase, spend threshold, event) add "
                "points."
            ),
            "multiplier": _("For multipliers. Bonus rules keep 1."),
            "bonus_points": _("For bonus rules. Multipliers keep 0."),
            "store": _("A store multiplier's store; on other order rules, limits them to it."),
            "channel": _(
                "A channel multiplier's channel; on other order rules, limits them to it."
            ),
            "min_spend": _("For a spend-threshold bonus: the order total that earns it."),
            "segment": _("Only members of this customer segment earn it (checked at the order)."),
            "priority": _("Higher first; equal priorities go to the older rule."),
            "stackable": _(
                "On: combines with the other rules of its family (multipliers multiply, "
                "bonuses add). Off: applies alone when it comes first by priority, and stops "
                "the lower-priority rules of its family."
            ),
            "starts_at": _("A promotion needs both a start and an end."),
        }

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The end must come after the start."))
        if data.get("kind"):
            draft = EarnRule(**{name: data[name] for name in EARN_RULE_FIELDS if name in data})
            for name, message in earn_rule_problems(draft):
                if name in self.fields and name not in self.errors:
                    self.add_error(name, message)
        return data


class EarnPreviewForm(BootstrapMixin, forms.Form):
    """An example basket for the rule preview: what, who, where and when (blank: now)."""

    amount = forms.DecimalField(label=_("Basket amount"), min_value=0, max_digits=10, initial=100)
    category = forms.CharField(label=_("Category"), max_length=80, required=False)
    sku = forms.CharField(label=_("SKU"), max_length=64, required=False)
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.all(), required=False)
    store = forms.ModelChoiceField(
        label=_("Store"), queryset=Store.objects.order_by("name"), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", "—"), *OrderChannel.choices], required=False
    )
    placed_at = forms.DateTimeField(
        label=_("Time of purchase"),
        required=False,
        widget=DATETIME,
        help_text=_("Blank: now."),
    )
    first_purchase = forms.BooleanField(label=_("First purchase"), required=False)


class TierForm(BootstrapMixin, forms.ModelForm):
    sections = [
        (None, None, ["name", "slug", "rank", "color"]),
        (
            _("Qualifying"),
            _("What members must reach in the window to enter the tier, and to keep it."),
            ["metric", "threshold", "retention_threshold", "window_months"],
        ),
        (_("Benefits"), None, ["earn_multiplier", "entry_gift_points", "benefits"]),
    ]

    class Meta:
        model = Tier
        fields = TIER_FIELDS
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}

    def clean(self):
        data = super().clean()
        if (
            data.get("threshold") is not None
            and data.get("retention_threshold") is not None
            and data["retention_threshold"] > data["threshold"]
        ):
            self.add_error(
                "retention_threshold",
                _("The threshold to keep a tier cannot exceed the one to reach it."),
            )
        return data


class RewardForm(BootstrapMixin, forms.ModelForm):
    sections = [
        (None, None, ["name", "description", "slug", "kind", "image"]),
        (
            _("Voucher"),
            _("What the member's voucher takes off at the till."),
            ["coupon_kind", "coupon_value", "coupon_min_spend", "coupon_valid_days"],
        ),
        (
            _("Availability"),
            None,
            ["cost_points", "stock", "per_member_limit", "min_tier", "starts_at", "ends_at"],
        ),
        (None, None, ["is_active"]),
    ]
    depends_on = ("kind", REWARD_KIND_FIELDS)

    class Meta:
        model = Reward
        fields = REWARD_FIELDS
        widgets = {"starts_at": DATETIME, "ends_at": DATETIME}

    def _post_clean(self):
        # The instance now holds the submitted values: the service's rule says what is wrong.
        super()._post_clean()
        for name, message in reward_problems(self.instance):
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, message)


class RewardCreateForm(RewardForm):
    stock = forms.IntegerField(
        label=_("Initial stock"), min_value=0, required=False, help_text=_("Empty = unlimited.")
    )

    class Meta(RewardForm.Meta):
        pass


class RestockForm(BootstrapMixin, forms.Form):
    add = forms.IntegerField(
        label=_("Units to add"),
        required=False,
        help_text=_("A negative number writes stock off."),
        min_value=-1_000_000,
        max_value=1_000_000,
    )
    unlimited = forms.BooleanField(label=_("Make unlimited"), required=False)

    def clean(self):
        data = super().clean()
        if not data.get("unlimited") and not data.get("add"):
            raise forms.ValidationError(_("Enter a number of units other than zero."))
        return data


class FulfilForm(BootstrapMixin, forms.Form):
    notes = forms.CharField(
        label=_("Fulfilment notes"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Tracking number, who collected it, …"),
    )


class CancelRedemptionForm(BootstrapMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class IdListField(forms.TypedMultipleChoiceField):
    """Several row ids (ticked checkboxes): any whole number is valid in shape; which rows can
    be acted on is the service's answer."""

    def __init__(self, **kwargs):
        super().__init__(coerce=int, choices=(), **kwargs)

    def valid_value(self, value) -> bool:
        return str(value).isdigit() and len(str(value)) <= 12


class BulkFulfilForm(forms.Form):
    """The queue's ticked rows and one note for all of them."""

    ids = IdListField(
        required=True, error_messages={"required": _("Select the redemptions to fulfil.")}
    )
    notes = forms.CharField(label=_("Fulfilment notes"), required=False, max_length=1000)


class CouponBatchForm(BootstrapMixin, forms.Form):
    """The batch's name is content in both languages (at least one; the service checks)."""

    name_en = forms.CharField(max_length=120, required=False)
    name_zh_hans = forms.CharField(max_length=120, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=CouponKind.choices)
    value = forms.DecimalField(
        label=_("Value"), min_value=0, max_digits=12, decimal_places=2, initial=0
    )
    min_spend = forms.DecimalField(
        label=_("Minimum spend"), min_value=0, max_digits=12, decimal_places=2, initial=0
    )
    valid_from = forms.DateTimeField(label=_("Valid from"), required=False, widget=DATETIME)
    valid_until = forms.DateTimeField(label=_("Valid until"), required=False, widget=DATETIME)
    max_uses = forms.IntegerField(label=_("Uses per code"), min_value=1, initial=1)
    max_uses_per_customer = forms.IntegerField(label=_("Uses per customer"), min_value=1, initial=1)
    size = forms.IntegerField(
        label=_("Number of codes"), min_value=1, max_value=100_000, initial=100
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        columns = localized_fields(CouponBatch, ["name"])
        for column, lang in zip(columns, content_languages(), strict=True):
            self.fields[column].label = content_label(_("Name"), lang)


class PointsAdjustForm(BootstrapMixin, forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Positive to add, negative to remove."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("An adjustment needs a non-zero number of points."))
        return points


class AdjustmentDecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])


class PeriodForm(forms.Form):
    PERIODS = [
        ("3", _("Last 3 months")),
        ("6", _("Last 6 months")),
        ("12", _("Last 12 months")),
        ("24", _("Last 24 months")),
    ]
    months = forms.TypedChoiceField(
        label=_("Period"), choices=PERIODS, coerce=int, initial=12, required=False
    )
