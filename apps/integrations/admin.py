"""Webhooks in the Django admin: endpoints and the delivery log to read; what changes goes
through the same services as the staff pages (/staff/integrations/ creates and edits endpoints
and shows secrets; the secret is never shown here)."""

from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.exceptions import ApplicationError

from .models import Delivery, Endpoint
from .services import (
    delivery_replay,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_test_send,
)


class _NoWrites:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Endpoint)
class EndpointAdmin(_NoWrites, admin.ModelAdmin):
    list_display = [
        "__str__",
        "url",
        "active",
        "consecutive_failures",
        "last_status_code",
        "last_success_at",
        "disabled_at",
    ]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    exclude = ["secret"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["send_test", "enable", "disable"]

    @admin.action(description=_("Send a test event"))
    def send_test(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            endpoint_test_send(endpoint=endpoint, actor=request.user)
        self.message_user(request, _("Test events queued."))

    @admin.action(description=_("Enable again"))
    def enable(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            endpoint_enable(endpoint=endpoint, actor=request.user)
        self.message_user(request, _("Endpoints enabled."))

    @admin.action(description=_("Pause"))
    def disable(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            endpoint_disable(endpoint=endpoint, actor=request.user)
        self.message_user(request, _("Endpoints paused."))

    def delete_model(self, request, obj):
        endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            endpoint_delete(endpoint=endpoint, actor=request.user)


@admin.register(Delivery)
class DeliveryAdmin(_NoWrites, admin.ModelAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "event_name",
        "status",
        "attempts",
        "response_code",
        "next_attempt_at",
    ]
    list_filter = ["status", "event_name"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id", "=id"]
    date_hierarchy = "created_at"
    actions = ["replay"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Send failed deliveries again"))
    def replay(self, request, queryset):
        done, refused = 0, []
        for delivery in queryset.order_by("created_at"):
            try:
                delivery_replay(delivery=delivery, actor=request.user)
            except ApplicationError as exc:
                refused.append(exc.message)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(n)s delivery queued again.", "%(n)s deliveries queued again.", done)
                % {"n": done},
            )
        for message in sorted(set(refused)):
            self.message_user(request, message, level=messages.WARNING)
