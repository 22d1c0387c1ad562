"""Django admin for customer value.

Segments are saved through ``segment_save`` (the rules are checked in the one place every way in
uses; a refusal shows on the form and nothing is written) and deleted through
``segment_delete`` (refused while a snapshot exists). Metrics, fits, snapshots and the at-risk
list are computed: view-only here. The settings row is edited by Administrators. Report
subscriptions are saved and deleted through ``services.reports`` (checked and audited there);
their deliveries are a read-only log."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from modeltranslation.admin import TranslationAdmin

from apps.core.exceptions import ApplicationError

from .exceptions import InvalidRules
from .models import (
    AnalyticsSettings,
    AtRiskEntry,
    CustomerMetrics,
    ModelFit,
    ReportDelivery,
    ReportSubscription,
    Segment,
    SegmentSnapshot,
)
from .rules.compiler import rules_validate
from .services.reports import (
    report_subscription_create,
    report_subscription_delete,
    report_subscription_update,
)
from .services.segments import segment_delete, segment_save


class ViewOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name_en", "name_zh_hans", "description_en", "description_zh_hans", "rules"]

    def clean_rules(self):
        try:
            return rules_validate(self.cleaned_data["rules"])
        except InvalidRules as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(Segment)
class SegmentAdmin(TranslationAdmin):
    form = SegmentAdminForm
    list_display = ["name", "last_count", "counted_at", "created_by", "updated_at"]
    search_fields = ["name_en", "name_zh_hans"]
    readonly_fields = ["last_count", "counted_at", "created_by"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = segment_save(
            actor=request.user,
            rules=data["rules"],
            names={k: data.get(k, "") for k in ("name_en", "name_zh_hans")},
            descriptions={k: data.get(k, "") for k in ("description_en", "description_zh_hans")},
            segment=obj if change else None,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        segment_delete(segment=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for segment in queryset.order_by("pk"):
            segment_delete(segment=segment, actor=request.user)


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["segment", "taken_at", "size", "taken_by", "note"]
    list_select_related = ["segment", "taken_by"]


@admin.register(CustomerMetrics)
class CustomerMetricsAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["customer", "as_of", "rfm_segment", "churn_band", "predicted_clv"]
    list_display += ["health_score"]
    list_filter = ["rfm_segment", "churn_band"]
    search_fields = ["customer__member_number"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(ModelFit)
class ModelFitAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["as_of", "fitted_at", "customers", "expected_repeat_purchases", "seconds"]


@admin.register(AtRiskEntry)
class AtRiskEntryAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["week", "customer", "churn_risk", "predicted_clv", "action", "assigned_to"]
    list_filter = ["week", "action"]
    list_select_related = ["customer", "assigned_to"]


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(admin.ModelAdmin):
    list_display = ["horizon_days", "clv_months", "discount_rate", "high_risk", "medium_risk"]
    list_display += ["at_risk_top_share"]

    def has_add_permission(self, request) -> bool:
        return not AnalyticsSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "weekday", "day_of_month", "hour", "role", "active"]
    list_display += ["last_sent_period", "last_sent_at"]
    list_filter = ["report", "frequency", "active"]
    list_select_related = ["role"]
    fields = ["report", "frequency", "weekday", "day_of_month", "hour", "role", "addresses"]
    fields += ["language", "active", "created_by", "last_sent_period", "last_sent_at"]
    readonly_fields = ["created_by", "last_sent_period", "last_sent_at"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data.get(name) for name in self.fields[:9]}
        if change:
            saved = report_subscription_update(subscription=obj, actor=request.user, **data)
        else:
            saved = report_subscription_create(actor=request.user, **data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        report_subscription_delete(subscription=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset.order_by("pk"):
            report_subscription_delete(subscription=subscription, actor=request.user)


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["subscription", "period", "status", "attempts", "started_at", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["subscription"]
