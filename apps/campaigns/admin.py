"""Django admin for campaigns. Campaigns are written in the staff dashboard, where every change
goes through the services (content checked in the sandbox, sends started by Celery): here they
and their messages are view-only, so the admin cannot start a half-checked send. The settings
row (frequency cap, quiet hours, tracking, conversion window) is edited here by
Administrators."""

from django.contrib import admin

from .models import Campaign, CampaignSettings, Message, Variant


class ViewOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VariantInline(ViewOnly, admin.TabularInline):
    model = Variant
    fields = ["label", "weight", "subject", "sms_body"]
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "kind", "status", "trigger", "audience_size", "spent", "started_at"]
    list_filter = ["kind", "status", "purpose"]
    search_fields = ["name_en", "name_zh_hans"]
    inlines = [VariantInline]


@admin.register(Message)
class MessageAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["campaign", "step", "customer", "channel", "status", "reason", "sent_at"]
    list_filter = ["status", "channel", "reason"]
    list_select_related = ["campaign", "customer"]
    raw_id_fields = ["customer", "campaign", "variant", "coupon"]


@admin.register(CampaignSettings)
class CampaignSettingsAdmin(admin.ModelAdmin):
    list_display = ["frequency_cap", "quiet_start", "quiet_end", "tracking", "conversion_days"]

    def has_add_permission(self, request) -> bool:
        return not CampaignSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
