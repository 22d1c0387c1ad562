"""Django admin for the loyalty configuration.

The ledger (accounts, transactions, lots, allocations) is read-only here: balances change only
through the services, which keep invariant 1 and write the hash chain and audit rows. Redemptions
and referrals are read-mostly for the same reason (their state changes move points and stock).

Configuration is money too (the point value, bonuses, multipliers, voucher values), so every
change made here leaves an audit event with the changed fields before and after (invariant 8),
exactly as the staff dashboard does: the programme, tiers, earn rules and rewards are saved by
the same services the dashboard calls (``apps.loyalty.services.configuration``, ``tier_create``),
coupons and badges by ``coupon_update`` and ``badge_create`` / ``badge_update``. Deletions are
audited with the row's last values. Tier codes and ranks
are fixed once created (the API, reports and earn rules refer to them).
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from apps.core.exceptions import ApplicationError, ValidationFailed
from apps.core.services import audit_record, model_snapshot

from .models import (
    Badge,
    ConfigurationVersion,
    Coupon,
    CouponBatch,
    CouponUse,
    CustomerBadge,
    EarnRule,
    LedgerVerification,
    LotAllocation,
    LoyaltyAccount,
    PointsAdjustment,
    PointsLot,
    PointsTransaction,
    Programme,
    Redemption,
    Referral,
    ReferralCode,
    Reward,
    Tier,
    TierHistory,
)
from .services.badges import BADGE_FIELDS, badge_create, badge_update
from .services.configuration import (
    EARN_RULE_FIELDS,
    PROGRAMME_FIELDS,
    REWARD_FIELDS,
    TIER_FIELDS,
    earn_rule_create,
    earn_rule_problems,
    earn_rule_update,
    programme_update,
    reward_create,
    reward_problems,
    reward_update,
    tier_update,
)
from .services.coupons import COUPON_FIELDS, coupon_update
from .services.tiers import TIER_CREATE_FIELDS, tier_create, tier_create_check


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by those with the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _form_value(value):
    # A cleared file input cleans to False; the model field stores "".
    return "" if value is False else value


def _changed(form, fields: list[str]) -> dict:
    """The cleaned values of ``fields`` the user actually changed on the form."""
    return {
        name: _form_value(form.cleaned_data[name])
        for name in fields
        if name in form.changed_data and name in form.cleaned_data
    }


def _submitted(form, fields: list[str]) -> dict:
    return {
        name: _form_value(form.cleaned_data[name]) for name in fields if name in form.cleaned_data
    }


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the row the service wrote (the admin logs and redirects
    with it)."""
    obj.pk = saved.pk
    obj.refresh_from_db()


def _snapshot(obj, fields: list[str]) -> dict:
    out = model_snapshot(obj, fields)
    for name in fields:  # files as their stored name, not the FieldFile object's repr
        value = getattr(obj, name)
        if isinstance(value, FieldFile):
            out[name] = value.name or ""
    return out


class AuditedAdmin(admin.ModelAdmin):
    """Saves go through the model's service (each subclass's ``save_model``), which validates,
    locks and writes the audit row; a refusal is shown as a message and nothing is written.
    Deletions write an AuditEvent ``<audit_name>.delete`` with the row's last values."""

    audit_name = ""
    audit_fields: list[str] = []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            # A rule only the service checks refused the save. The admin's transaction rolled
            # back, so nothing was written: say why instead of answering with a server error.
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _audit_delete(self, request, obj) -> None:
        audit_record(
            actor=request.user,
            action=f"{self.audit_name}.delete",
            target=obj,
            summary=str(obj)[:300],
            before=_snapshot(obj, self.audit_fields),
        )

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._audit_delete(request, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The changelist's "delete selected" action: one event per row, all or nothing.
        with transaction.atomic():
            for obj in queryset.order_by("pk"):
                self._audit_delete(request, obj)
            super().delete_queryset(request, queryset)


class WindowCheckForm(forms.ModelForm):
    """The services refuse an availability window that ends before it starts; say so on the
    form instead of failing on save."""

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must come after the start."))
        return data


class ProblemsCheckForm(WindowCheckForm):
    """Shows what the service would refuse (its ``problems`` function, the one place of the
    rule) on the form's fields, instead of failing on save."""

    problems = staticmethod(lambda instance: [])

    def _post_clean(self):
        super()._post_clean()
        for name, message in self.problems(self.instance):
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, message)


class EarnRuleAdminForm(ProblemsCheckForm):
    problems = staticmethod(earn_rule_problems)


class RewardAdminForm(ProblemsCheckForm):
    problems = staticmethod(reward_problems)


@admin.register(Programme)
class ProgrammeAdmin(TranslationAdmin, AuditedAdmin):
    audit_name = "programme"
    audit_fields = PROGRAMME_FIELDS
    list_display = ["name", "points_per_currency_unit", "point_value", "expiry_policy"]
    fieldsets = [
        (None, {"fields": ["name", "points_per_currency_unit", "point_value"]}),
        (
            _("Expiry"),
            {"fields": ["expiry_policy", "expiry_months", "expiry_years", "reminder_days"]},
        ),
        (
            _("Bonuses"),
            {"fields": ["signup_bonus", "birthday_bonus", "referrer_bonus", "referee_bonus"]},
        ),
        (
            _("Rules"),
            {"fields": ["pending_days", "tier_grace_days", "adjustment_limit"]},
        ),
    ]

    def has_add_permission(self, request) -> bool:
        # One row (Programme.get()); a second one would be ignored.
        return super().has_add_permission(request) and not Programme.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:
            programme_update(actor=request.user, **_changed(form, PROGRAMME_FIELDS))
        else:
            # The first row (Programme.get() would otherwise create it with the defaults).
            super().save_model(request, obj, form, change)


class TierAdminForm(forms.ModelForm):
    """A new tier must fit the ladder (``tier_create_check``); shown on the form, not as a
    server error from the service."""

    def clean(self):
        data = super().clean()
        if self.instance.pk is not None or self.errors:
            return data
        try:
            tier_create_check(
                slug=data["slug"],
                rank=data["rank"],
                metric=data["metric"],
                threshold=data["threshold"],
                retention_threshold=data["retention_threshold"],
            )
        except ValidationFailed as exc:
            field = exc.extra.get("field")
            if field not in ("slug", "rank"):  # the form's unique check reports those itself
                self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(Tier)
class TierAdmin(TranslationAdmin, AuditedAdmin):
    audit_name = "tier"
    audit_fields = TIER_CREATE_FIELDS
    form = TierAdminForm
    list_display = [
        "rank",
        "name",
        "slug",
        "metric",
        "threshold",
        "retention_threshold",
        "window_months",
        "earn_multiplier",
    ]
    list_display_links = ["name"]
    ordering = ["rank"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "rank"] if obj is not None else []

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name_en"]} if obj is None else {}

    def save_model(self, request, obj, form, change):
        if change:
            tier_update(tier=obj, actor=request.user, **_changed(form, TIER_FIELDS))
        else:
            _adopt(obj, tier_create(actor=request.user, **_submitted(form, TIER_CREATE_FIELDS)))


@admin.register(EarnRule)
class EarnRuleAdmin(TranslationAdmin, AuditedAdmin):
    audit_name = "earn_rule"
    audit_fields = EARN_RULE_FIELDS
    form = EarnRuleAdminForm
    list_display = ["name", "kind", "multiplier", "bonus_points", "priority", "stackable"]
    list_display += ["starts_at", "ends_at", "is_active"]
    list_filter = ["kind", "is_active", "stackable"]
    search_fields = ["name", "category", "sku"]
    filter_horizontal = ["tiers"]
    raw_id_fields = ["store"]

    def save_model(self, request, obj, form, change):
        tiers = list(form.cleaned_data.get("tiers") or [])
        if change:
            data = _changed(form, EARN_RULE_FIELDS)
            earn_rule_update(rule=obj, actor=request.user, tiers=tiers, **data)
        else:
            data = _submitted(form, EARN_RULE_FIELDS)
            _adopt(obj, earn_rule_create(actor=request.user, tiers=tiers, **data))

    def save_related(self, request, form, formsets, change):
        # The service has set the tiers (and audited a change of them); no inlines.
        pass


@admin.register(Reward)
class RewardAdmin(TranslationAdmin, AuditedAdmin):
    audit_name = "reward"
    audit_fields = [*REWARD_FIELDS, "stock"]
    form = RewardAdminForm
    list_display = ["name", "kind", "cost_points", "stock", "per_member_limit", "min_tier"]
    list_display += ["is_active"]
    list_filter = ["kind", "is_active", "min_tier"]
    list_select_related = ["min_tier"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name_en"]}

    def get_readonly_fields(self, request, obj=None):
        # Stock of an existing reward changes only through redemption and restock (row locks).
        return ["stock"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            reward_update(reward=obj, actor=request.user, **_changed(form, REWARD_FIELDS))
        else:
            data = _submitted(form, REWARD_FIELDS)
            _adopt(obj, reward_create(actor=request.user, stock=obj.stock, **data))


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "reward", "account", "quantity", "points", "status", "channel"]
    list_display += ["created_at"]
    list_filter = ["status", "channel", "reward__kind"]
    search_fields = ["account__customer__member_number", "voucher_code", "reward__name"]
    list_select_related = ["reward", "account__customer"]
    date_hierarchy = "created_at"


@admin.register(CouponBatch)
class CouponBatchAdmin(ReadOnlyAdmin):
    """Batches are generated by the coupon service (unguessable codes) from the dashboard."""

    list_display = ["name", "kind", "value", "size", "valid_from", "valid_until", "created_by"]
    list_select_related = ["created_by"]
    search_fields = ["name"]


@admin.register(Coupon)
class CouponAdmin(AuditedAdmin):
    audit_name = "coupon"
    audit_fields = COUPON_FIELDS
    list_display = ["code", "kind", "value", "uses", "max_uses", "owner", "valid_until"]
    list_display += ["is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "owner__member_number"]
    list_select_related = ["owner", "batch"]
    # Codes are generated by the coupon service; the use counter moves only with redemption.
    readonly_fields = ["code", "uses", "batch", "owner", "redemption", "source_ref"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        coupon_update(coupon=obj, actor=request.user, **_changed(form, COUPON_FIELDS))
        obj.refresh_from_db()


@admin.register(CouponUse)
class CouponUseAdmin(ReadOnlyAdmin):
    list_display = ["coupon", "customer", "store", "order_external_id", "discount", "at"]
    list_select_related = ["coupon", "customer", "store"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["referrer", "referee", "code", "status", "rewarded_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["code", "referrer__member_number", "referee__member_number"]
    list_select_related = ["referrer", "referee"]


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "customer"]
    search_fields = ["code", "customer__member_number"]
    list_select_related = ["customer"]


@admin.register(Badge)
class BadgeAdmin(TranslationAdmin, AuditedAdmin):
    audit_name = "badge"
    audit_fields = BADGE_FIELDS
    list_display = ["name", "slug", "rule", "threshold", "bonus_points", "is_active"]
    list_filter = ["rule", "is_active"]
    prepopulated_fields = {"slug": ["name_en"]}

    def save_model(self, request, obj, form, change):
        if change:
            badge_update(badge=obj, actor=request.user, **_changed(form, BADGE_FIELDS))
        else:
            _adopt(obj, badge_create(actor=request.user, **_submitted(form, BADGE_FIELDS)))


@admin.register(CustomerBadge)
class CustomerBadgeAdmin(ReadOnlyAdmin):
    list_display = ["customer", "badge", "awarded_at"]
    list_select_related = ["customer", "badge"]


# --- the ledger: read-only ---------------------------------------------------------------------


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "balance", "pending", "debt", "lifetime_earned", "tier"]
    list_display += ["tier_review_at"]
    list_filter = ["tier"]
    search_fields = ["customer__member_number", "customer__email"]
    list_select_related = ["customer", "tier"]
    readonly_fields = [f.name for f in LoyaltyAccount._meta.fields]


@admin.register(PointsTransaction)
class PointsTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "kind", "points", "pending_points", "balance_after"]
    list_display += ["reason", "actor", "created_at"]
    list_filter = ["kind"]
    search_fields = ["account__customer__member_number", "idempotency_key", "source_ref"]
    list_select_related = ["account__customer", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the ledger is large; COUNT(*) on every page is wasteful


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "points", "remaining", "status", "earned_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["account__customer__member_number"]
    list_select_related = ["account__customer"]
    show_full_result_count = False


@admin.register(LotAllocation)
class LotAllocationAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "lot", "points"]


@admin.register(TierHistory)
class TierHistoryAdmin(ReadOnlyAdmin):
    list_display = ["account", "from_tier", "to_tier", "reason", "at"]
    list_select_related = ["account__customer", "from_tier", "to_tier"]


@admin.register(PointsAdjustment)
class PointsAdjustmentAdmin(ReadOnlyAdmin):
    """Requested and decided in the dashboard (approval needs another manager)."""

    list_display = ["account", "points", "reason", "status", "requested_by", "decided_by"]
    list_display += ["requested_at"]
    list_filter = ["status"]
    list_select_related = ["account__customer", "requested_by", "decided_by"]


@admin.register(LedgerVerification)
class LedgerVerificationAdmin(ReadOnlyAdmin):
    """Written by the nightly verification only (``services.ledger_checks``)."""

    list_display = ["started_at", "finished_at", "ok", "fault_count", "accounts_checked"]
    list_display += ["rows_checked", "merkle_root", "digest_sent_to"]
    list_filter = ["ok"]


@admin.register(ConfigurationVersion)
class ConfigurationVersionAdmin(ReadOnlyAdmin):
    """Moved by database triggers only (``apps.loyalty.configuration``)."""

    list_display = ["version"]
