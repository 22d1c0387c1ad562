"""Django admin for complaints.

Configuration (categories, teams, SLA policies with their escalation levels, saved replies and
the complaint settings) is edited here by Administrators, in both languages. Tickets, their
messages, events and compensation are view-only: they change only through the services (the
clocks, the ledger and the audit trail depend on it). Attachments are listed by name and size,
never linked: private files have no URL (``apps.core.uploads``)."""

from django.contrib import admin
from modeltranslation.admin import TranslationAdmin

from .models import (
    Category,
    Compensation,
    ComplaintSettings,
    EscalationLevel,
    SavedReply,
    SLAPolicy,
    Team,
    Ticket,
    TicketEvent,
    TicketMessage,
)


class ViewOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(TranslationAdmin):
    list_display = ["name", "code", "parent", "position", "active", "member_visible"]
    list_filter = ["active", "member_visible", "parent"]
    search_fields = ["code", "name_en", "name_zh_hans"]
    ordering = ["parent__position", "position", "code"]


@admin.register(Team)
class TeamAdmin(TranslationAdmin):
    list_display = ["name", "code", "lead"]
    search_fields = ["code", "name_en", "name_zh_hans"]
    filter_horizontal = ["members", "categories"]


class EscalationInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(TranslationAdmin):
    list_display = ["name", "position", "active", "calendar", "first_response_minutes"]
    list_display += ["resolution_minutes"]
    list_filter = ["active", "calendar"]
    filter_horizontal = ["categories", "tiers"]
    inlines = [EscalationInline]


@admin.register(SavedReply)
class SavedReplyAdmin(TranslationAdmin):
    list_display = ["title", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["title_en", "title_zh_hans"]


@admin.register(ComplaintSettings)
class ComplaintSettingsAdmin(admin.ModelAdmin):
    list_display = ["reopen_days", "auto_close_days", "compensation_limit", "follow_up_category"]

    def has_add_permission(self, request) -> bool:
        return not ComplaintSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(ViewOnly, admin.TabularInline):
    model = TicketMessage
    fields = ["at", "kind", "author_kind", "author", "via", "body"]
    readonly_fields = fields
    extra = 0


class EventInline(ViewOnly, admin.TabularInline):
    model = TicketEvent
    fields = ["at", "kind", "actor", "data"]
    readonly_fields = fields
    extra = 0


@admin.register(Ticket)
class TicketAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["reference", "customer", "status", "priority", "category", "assignee"]
    list_display += ["created_at", "resolution_due", "resolution_breached_at"]
    list_filter = ["status", "priority", "channel", "category", "team"]
    search_fields = ["^reference", "customer__member_number", "subject"]
    list_select_related = ["customer", "category", "assignee"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [MessageInline, EventInline]


@admin.register(Compensation)
class CompensationAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["ticket", "kind", "points", "amount", "value", "status", "requested_by"]
    list_display += ["decided_by", "requested_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["ticket", "requested_by", "decided_by"]
