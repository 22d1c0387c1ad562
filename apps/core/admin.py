from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .audit import action_choices, action_label, target_type_choices
from .models import AuditEvent


class _ChoiceFilter(admin.SimpleListFilter):
    """A filter over a fixed list: Django's field filter would SELECT DISTINCT over every row."""

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value else queryset


class ActionFilter(_ChoiceFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return action_choices()


class TargetTypeFilter(_ChoiceFilter):
    title = _("target type")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        return target_type_choices()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only (invariant 8), written only by services. Nobody
    adds, changes or deletes a row here, superusers included; the staff page
    ``/staff/audit/`` is the readable view with filters and exports."""

    list_display = ["at", "actor_label", "action", "action_words", "target_type", "target_id"]
    list_filter = [ActionFilter, TargetTypeFilter]
    list_select_related = ["actor"]
    search_fields = ["=target_id", "=actor_label", "summary"]
    # A million rows: no second COUNT(*) of the whole table on every filtered page.
    show_full_result_count = False
    readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "summary",
        "before",
        "after",
    ]
    fields = readonly_fields
    actions = None

    @admin.display(description=_("action in words"))
    def action_words(self, obj: AuditEvent) -> str:
        return action_label(obj.action)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
