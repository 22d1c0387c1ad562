"""Django admin for the customers app (Administrators).

Customer edits go through the profile services (E.164 phones, search text, audit events), tag
changes through ``customer_tags_set``; orders, lines and refunds are read-only here because
points depend on them — they come from the API, the till integrations and imports. Customers
and orders are never deleted here: a customer leaves through erasure (the customer page's
"Erase", which anonymises and keeps the ledger), and orders carry ledger links. Import/export
buttons use the resources in ``resources.py`` and the import/export permissions of the roles;
every admin export writes an audit event. A merged-away customer shows its survivor and is
read-only: merges happen on the staff dashboard's duplicates pages (``customer_merge``), never by
editing the pointer.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.forms import ImportForm
from modeltranslation.admin import TranslationAdmin

from apps.core.admin_exports import EXPORT_FORMATS
from apps.core.services import export_record

from .forms import upload_clean
from .models import (
    ConsentRecord,
    Customer,
    ImportJob,
    Interaction,
    Order,
    OrderLine,
    Refund,
    Store,
    Tag,
)
from .resources import CustomerResource, OrderResource
from .services import (
    PROFILE_FIELDS,
    customer_create,
    customer_profile_problems,
    customer_tags_set,
    customer_update,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ConsentInline(_ReadOnlyInline):
    model = ConsentRecord
    fields = ["channel", "purpose", "granted", "at", "source", "evidence", "actor"]
    readonly_fields = fields
    ordering = ["-at", "-id"]


class InteractionInline(_ReadOnlyInline):
    model = Interaction
    fields = ["kind", "summary", "author", "at"]
    readonly_fields = fields


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "name", "category", "quantity", "unit_price"]
    readonly_fields = fields


class UploadCheckedImportForm(ImportForm):
    """django-import-export's upload form, with the one upload check every import uses
    (``import_upload_check``: .csv or .xlsx, at most IMPORT_MAX_UPLOAD_BYTES)."""

    def clean_import_file(self):
        return upload_clean(self.cleaned_data["import_file"])


class _AuditedExportAdmin(ImportExportModelAdmin):
    import_form_class = UploadCheckedImportForm
    # Formats that keep formula-like text inert their own way (apps.core.admin_exports).
    export_formats = EXPORT_FORMATS
    import_permission = ""
    export_permission = ""
    # The audit action of an export. Not ``export_action``: that name is django-import-export's
    # export view, which a string would replace.
    audit_export_action = ""

    def has_import_permission(self, request):
        return request.user.has_perm(self.import_permission)

    def has_export_permission(self, request):
        return request.user.has_perm(self.export_permission)

    def get_export_data(self, file_format, request, queryset, **kwargs):
        # django-import-export's own, but with native dates and numbers for every binary format
        # (it asks for them by exact type, which misses our XLSX subclass) and a sheet title.
        if not self.has_export_permission(request):
            raise PermissionDenied
        dataset = self.get_data_for_export(
            request, queryset, force_native_type=file_format.is_binary(), **kwargs
        )
        dataset.title = capfirst(str(self.model._meta.verbose_name_plural))
        data = file_format.export_data(dataset)
        if not file_format.is_binary() and kwargs.get("encoding"):
            data = data.encode(kwargs["encoding"])
        export_record(
            actor=request.user,
            what=self.audit_export_action.removeprefix("export."),
            fmt=file_format.get_title(),
            rows=queryset.count(),
            summary="admin export",
            details={"source": "admin"},
        )
        return data


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [*PROFILE_FIELDS, "tags"]

    def clean(self):
        # The profile services' own checks, run here so a refusal is a form error, not a 500.
        data = super().clean()
        profile = {f: data[f] for f in PROFILE_FIELDS if f in data}
        current = self.instance if self.instance.pk else None
        if current is not None:
            profile = {f: v for f, v in profile.items() if f in self.changed_data}
        _clean, problems = customer_profile_problems(profile, current=current)
        for field, message in problems:
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data


class MergedFilter(admin.SimpleListFilter):
    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Merged into another customer"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        return queryset


@admin.register(Customer)
class CustomerAdmin(_AuditedExportAdmin):
    resource_classes = [CustomerResource]
    import_permission = "customers.import_customer"
    export_permission = "customers.export_customer"
    audit_export_action = "export.customers"
    form = CustomerAdminForm
    list_display = [
        "member_number",
        "last_name",
        "first_name",
        "email",
        "phone",
        "store",
        "joined_at",
        "merged_into",
    ]
    list_filter = ["source", "store", "gender", "preferred_language", MergedFilter, "tags"]
    search_fields = ["member_number", "email", "phone", "last_name", "first_name"]
    list_select_related = ["store", "merged_into"]
    readonly_fields = [
        "member_number",
        "joined_at",
        "source",
        "anonymized_at",
        "user",
        "merged_into",
        "merged_at",
    ]
    autocomplete_fields = ["tags"]
    inlines = [ConsentInline, InteractionInline]
    date_hierarchy = "joined_at"

    def save_model(self, request, obj, form, change):
        profile = {f: form.cleaned_data[f] for f in PROFILE_FIELDS if f in form.cleaned_data}
        if change:
            changed = {f: v for f, v in profile.items() if f in form.changed_data}
            saved = customer_update(customer=obj, actor=request.user, **changed)
        else:
            saved = customer_create(actor=request.user, **profile)
        obj.pk, obj.member_number = saved.pk, saved.member_number
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # Tags through the audited services instead of form.save_m2m(), the only m2m here. The
        # consent and interaction inlines are read-only, but their formsets are still saved (a
        # no-op) so the admin's change message can read them.
        customer_tags_set(
            customer=form.instance,
            names=[tag.name for tag in form.cleaned_data.get("tags", [])],
            actor=request.user,
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_change_permission(self, request, obj=None):
        # A merged-away record is history: its survivor is the customer to change.
        if obj is not None and obj.merged_into_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Erasure, not deletion: ``delete_customer`` is the erasure right of the dashboard.
        # Without the delete permission the admin also drops the "delete selected" action.
        return False


@admin.register(Order)
class OrderAdmin(_AuditedExportAdmin):
    resource_classes = [OrderResource]
    import_permission = "customers.import_order"
    export_permission = "customers.export_order"
    audit_export_action = "export.orders"
    list_display = ["external_id", "store", "customer", "placed_at", "total", "status"]
    list_filter = ["status", "channel", "store"]
    search_fields = ["external_id", "customer__member_number", "coupon_code"]
    list_select_related = ["store", "customer"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline]
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["refund_id", "order", "amount", "at"]
    search_fields = ["refund_id", "order__external_id"]
    list_select_related = ["order", "order__store"]
    readonly_fields = ["order", "refund_id", "amount", "at", "reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(TranslationAdmin):
    list_display = ["code", "name", "city", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name", "city"]


@admin.register(Tag)
class TagAdmin(TranslationAdmin):
    list_display = ["name", "label", "color"]
    search_fields = ["name"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "summary", "author", "at"]
    list_filter = ["kind"]
    search_fields = ["customer__member_number", "summary"]
    list_select_related = ["customer", "author"]
    readonly_fields = ["customer", "kind", "summary", "body", "author", "at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "kind",
        "status",
        "total_rows",
        "error_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
