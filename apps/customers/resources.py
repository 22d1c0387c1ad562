"""django-import-export resources for the Django admin.

Imports through these resources go through the same row validation as the fast path
(``apps.customers.imports.customer_row_clean`` / ``order_row_clean``): phones become E.164,
member numbers are checked (or drawn when absent), ``search_text`` is written, and the same
re-run rules apply — existing customers and identical existing orders are skipped, an order
that differs from the recorded one is an error, a customer whose e-mail or phone is on the
suppression list of erased people is an error (checked in the import's transaction, under the
list's lock). Orders imported here carry no lines; files with
line columns go through ``manage.py import_orders`` or the dashboard import page.
Exported cells are kept inert against spreadsheet formulae like every other export, by the admin's
export formats (``apps.core.admin_exports``): an apostrophe in CSV, quote-prefixed text in XLSX.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from apps.core.exports import spreadsheet_cell
from apps.core.services import audit_record

from .enums import Source
from .identifiers import member_number_generate
from .importing.files import cell_text, nul_problems
from .importing.rows import (
    CONSENT_COLUMNS,
    ImportContext,
    customer_ids_by_number,
    customer_row_clean,
    customer_row_erased,
    erased_digests_of,
    order_row_clean,
)
from .models import ConsentRecord, Customer, Order, Store
from .services import PROFILE_FIELDS, customer_search_text
from .suppression import erased_contacts_lock


def _normalised(row: dict) -> dict[str, str]:
    return {str(k).strip().lower(): cell_text(v) for k, v in row.items() if k is not None}


def _header_normalise(dataset, *, id_columns: list[str]) -> None:
    """Column names as the fast path reads them (trimmed, lower case, spaces as ``_``), plus any
    of the import-id columns the file lacks, left empty. import-export refuses a file without
    its id columns with a traceback; this way a customers file without ``member_number`` gets
    drawn numbers (as on the dashboard), and an orders file without ``store`` or
    ``external_id`` gets the row validation's "is required" on every row."""
    if not dataset.headers:
        return
    headers = [re.sub(r"\s+", "_", str(h or "").strip().lower()) for h in dataset.headers]
    dataset.headers = headers
    for column in id_columns:
        if column in headers:
            continue
        if dataset.height:
            dataset.append_col([""] * dataset.height, header=column)
        else:
            dataset.headers = [*dataset.headers, column]


def _raise(problems: list[tuple[str, str]]) -> None:
    errors: dict[str, list[str]] = {}
    for column, reason in problems:
        errors.setdefault(column, []).append(reason)
    raise ValidationError(errors)


class _EscapedExport:
    def export_field(self, field, instance, **kwargs):
        # Stored text a spreadsheet cannot hold (a control character from before the text
        # rule) is stripped, so the admin's XLSX export never fails on it. Formula-like text is
        # left to the export format (apps.core.admin_exports).
        return spreadsheet_cell(super().export_field(field, instance, **kwargs))


class _AuditedImport:
    audit_action = ""

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        audit_record(
            actor=kwargs.get("user"),
            action=self.audit_action,
            summary="admin import",
            after={"source": "admin", "rows": len(dataset), "totals": dict(result.totals)},
        )


class CustomerResource(_AuditedImport, _EscapedExport, resources.ModelResource):
    audit_action = "import.customers"
    store = fields.Field(
        attribute="store", column_name="store", widget=widgets.ForeignKeyWidget(Store, "code")
    )

    class Meta:
        model = Customer
        import_id_fields = ["member_number"]
        fields = ["member_number", *PROFILE_FIELDS, "joined_at"]
        export_order = fields
        skip_diff = True

    def before_import(self, dataset, **kwargs):
        _header_normalise(dataset, id_columns=self.get_import_id_fields())
        self._ctx = ImportContext.load()
        # Inside the import's transaction (IMPORT_EXPORT_USE_TRANSACTIONS): no erasure can
        # commit between this look-up and the rows' inserts.
        erased_contacts_lock(shared=True)
        rows = dataset.dict if dataset.headers else []
        self._erased = erased_digests_of(_normalised(row) for row in rows)
        super().before_import(dataset, **kwargs)

    def before_import_row(self, row, **kwargs):
        values = _normalised(row)
        if nul := nul_problems(values):
            _raise(nul)
        clean, problems = customer_row_clean(values, self._ctx)
        problems.extend(customer_row_erased(clean, self._erased))
        if problems:
            _raise(problems)
        row.clear()
        row.update(values)
        for key in ("email", "phone", "gender", "preferred_language", "preferred_channel"):
            row[key] = clean[key]
        row["birth_date"] = clean["birth_date"]
        row["joined_at"] = clean["joined_at"]
        row["_consents"] = {c: clean[c] for c in CONSENT_COLUMNS}

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if instance.pk:  # that member number exists: imports never update customers
            return True
        if row.get("member_number"):
            return False
        existing = Customer.objects.all()
        if row.get("email") and existing.filter(email=row["email"]).exists():
            return True
        return bool(row.get("phone")) and existing.filter(phone=row["phone"]).exists()

    def before_save_instance(self, instance, row, **kwargs):
        while not instance.member_number:
            number = member_number_generate()
            if not Customer.objects.filter(member_number=number).exists():
                instance.member_number = number
        instance.source = Source.IMPORT
        instance.joined_at = instance.joined_at or timezone.now()
        instance.search_text = customer_search_text(
            first_name=instance.first_name,
            last_name=instance.last_name,
            email=instance.email,
            phone=instance.phone,
            member_number=instance.member_number,
        )

    def after_save_instance(self, instance, row, **kwargs):
        user = kwargs.get("user")
        for column, (channel, purpose) in CONSENT_COLUMNS.items():
            granted = row.get("_consents", {}).get(column)
            if granted is not None:
                ConsentRecord.objects.create(
                    customer=instance,
                    channel=channel,
                    purpose=purpose,
                    granted=granted,
                    source=Source.IMPORT,
                    evidence="admin import",
                    actor=user if getattr(user, "pk", None) else None,
                )


class OrderResource(_AuditedImport, _EscapedExport, resources.ModelResource):
    audit_action = "import.orders"
    store = fields.Field(
        attribute="store", column_name="store", widget=widgets.ForeignKeyWidget(Store, "code")
    )
    member_number = fields.Field(
        attribute="customer",
        column_name="member_number",
        widget=widgets.ForeignKeyWidget(Customer, "member_number"),
    )

    class Meta:
        model = Order
        import_id_fields = ["store", "external_id"]
        fields = [
            "member_number",
            "external_id",
            "store",
            "placed_at",
            "total",
            "channel",
            "discount",
            "coupon_code",
            "status",
            "refunded_amount",
        ]
        export_order = fields
        skip_diff = True

    def get_import_fields(self):
        # Status and refunds come from refunds, never from a file.
        return [
            f
            for f in super().get_import_fields()
            if f.column_name not in ("status", "refunded_amount")
        ]

    def before_import(self, dataset, **kwargs):
        _header_normalise(dataset, id_columns=self.get_import_id_fields())
        self._ctx = ImportContext.load()
        super().before_import(dataset, **kwargs)

    def before_import_row(self, row, **kwargs):
        values = _normalised(row)
        number = values.get("member_number", "")
        if number and number not in self._ctx.customers:
            self._ctx.customers.update(customer_ids_by_number([number]))
        if nul := nul_problems(values):
            _raise(nul)
        order, line, problems = order_row_clean(values, self._ctx)
        if line is not None:
            problems.append(
                ("sku", _("order lines are imported with the import page or import_orders"))
            )
        if problems:
            _raise(problems)
        row.clear()
        row.update(values)
        row.update(
            placed_at=order["placed_at"],
            total=order["total"],
            discount=order["discount"],
            channel=order["channel"],
            coupon_code=order["coupon_code"],
        )
        row["_order"] = order

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if not instance.pk:
            return False
        order: dict[str, Any] = row["_order"]
        same = Order.objects.filter(
            pk=instance.pk,
            customer_id=order["customer_id"],
            placed_at=order["placed_at"],
            total=order["total"],
        ).exists()
        if not same:
            raise ValidationError(
                {
                    "external_id": [
                        _(
                            "order “%(id)s” is already recorded at this store with a different "
                            "customer, time or total"
                        )
                        % {"id": order["external_id"]}
                    ]
                }
            )
        return True
