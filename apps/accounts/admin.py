from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import Conflict

from . import roles
from .models import ApiKey, User
from .services import staff_admin_saved, staff_snapshot


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "phone", "full_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "phone", "full_name"]
    # The sign-in number changes only through its SMS code (the member's account settings).
    readonly_fields = ["phone", "phone_verified"]
    fieldsets = [
        (None, {"fields": ["email", "phone", "phone_verified", "password"]}),
        (_("Personal info"), {"fields": ["full_name", "language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2", "is_staff"]})
    ]

    # The Administrator rule (``services.administrator_removal_check``) holds here too: a save
    # that removes the last active Administrator, or the acting Administrator's own rights, is
    # rolled back and shown as an error; every change of access is audited by the service.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Conflict as exc:  # raised inside the admin's transaction: nothing was saved
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        stored = User.objects.filter(pk=obj.pk).first() if change else None
        request._staff_before = staff_snapshot(stored) if stored is not None else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        staff_admin_saved(
            user=form.instance, before=getattr(request, "_staff_before", {}), actor=request.user
        )

    def get_actions(self, request):
        # Users are deactivated, not deleted (their names stay on what they did).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and roles.is_administrator(obj):
            return False  # an Administrator is demoted or deactivated first (the rule above)
        return super().has_delete_permission(request, obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "last_used_at"]
    search_fields = ["name", "prefix"]

    def has_add_permission(self, request):
        return False  # keys are created with ``manage.py create_api_key`` so the key is shown once
