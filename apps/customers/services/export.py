"""Download my data: everything held about a customer as a ZIP, one JSON and one CSV per
section. The sections come from ``apps.core.privacy``: the customers app registers its own
(profile, account, consents, orders, order lines, refunds, interactions, portal messages,
privacy log) in ``CustomersConfig.ready()``; apps above register theirs there too, with the
audit targets they own."""

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.db import models, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core import privacy
from apps.core.exports import escape_cell
from apps.core.models import AuditEvent
from apps.core.services import audit_record

from ..models import ConsentRecord, Customer, Interaction, Order, OrderLine, PortalMessage, Refund


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, Decimal)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value


def row_of(instance: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every concrete field of ``instance`` (foreign keys as ids) as a JSON-safe dict."""
    out = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        out[field.name if not field.is_relation else field.attname] = _plain(
            getattr(instance, field.attname)
        )
    return out


def export_profile(*, customer: Customer) -> list[dict]:
    row = row_of(customer, exclude=("search_text",))
    row["tags"] = ", ".join(customer.tags.values_list("name", flat=True))
    row["store_name"] = customer.store.name if customer.store_id else ""
    return [row]


def export_account(*, customer: Customer) -> list[dict]:
    if customer.user_id is None:
        return []

    user = customer.user
    rows = [
        {
            "record": "user",
            "email": user.email or "",
            "phone": user.phone,
            "phone_verified": user.phone_verified,
            "full_name": user.full_name,
            "language": user.language,
            "date_joined": _plain(user.date_joined),
            "last_login": _plain(user.last_login),
            "is_active": user.is_active,
        }
    ]
    for address in EmailAddress.objects.filter(user=user).order_by("id"):
        rows.append(
            {
                "record": "email_address",
                "email": address.email,
                "verified": address.verified,
                "primary": address.primary,
            }
        )
    for auth in Authenticator.objects.filter(user=user).order_by("id"):
        rows.append(
            {
                "record": "two_factor",
                "type": auth.type,
                "created_at": _plain(auth.created_at),
                "last_used_at": _plain(auth.last_used_at),
            }
        )
    for session in UserSession.objects.filter(user=user).order_by("id"):
        rows.append(
            {
                "record": "session",
                "ip": session.ip,
                "user_agent": session.user_agent,
                "created_at": _plain(session.created_at),
                "last_seen_at": _plain(session.last_seen_at),
            }
        )
    return rows


def export_consents(*, customer: Customer) -> list[dict]:
    return [
        row_of(r, exclude=("customer",))
        for r in ConsentRecord.objects.filter(customer=customer).order_by("at", "id")
    ]


def export_orders(*, customer: Customer) -> list[dict]:
    rows = []
    for order in Order.objects.filter(customer=customer).select_related("store").order_by("id"):
        row = row_of(order, exclude=("customer",))
        row["store_name"] = order.store.name
        rows.append(row)
    return rows


def export_order_lines(*, customer: Customer) -> list[dict]:
    return [
        row_of(line)
        for line in OrderLine.objects.filter(order__customer=customer).order_by("order_id", "id")
    ]


def export_refunds(*, customer: Customer) -> list[dict]:
    return [row_of(r) for r in Refund.objects.filter(order__customer=customer).order_by("id")]


def export_interactions(*, customer: Customer) -> list[dict]:
    return [
        row_of(i, exclude=("customer", "author"))
        for i in Interaction.objects.filter(customer=customer).order_by("at", "id")
    ]


def export_messages(*, customer: Customer) -> list[dict]:
    return [
        row_of(m, exclude=("customer", "key"))
        for m in PortalMessage.objects.filter(customer=customer).order_by("sent_at", "id")
    ]


def person_audit_events(customer: Customer) -> "models.QuerySet[AuditEvent]":
    """Audit events about the customer, their portal account or anything a registered section
    owns for them (loyalty account, redemptions...), and events their account performed."""
    about = models.Q(target_type=Customer._meta.label_lower, target_id=str(customer.pk))
    if customer.user_id:
        about |= models.Q(target_type=User._meta.label_lower, target_id=str(customer.user_id))
        about |= models.Q(actor_id=customer.user_id)
    for kind, ids in privacy.audit_targets(customer=customer):
        about |= models.Q(target_type=kind, target_id__in=[str(i) for i in ids])
    return AuditEvent.objects.filter(about)


def export_privacy_log(*, customer: Customer) -> list[dict]:
    return [
        {
            "at": _plain(e.at),
            "action": e.action,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "summary": e.summary,
            "before": e.before,
            "after": e.after,
        }
        for e in person_audit_events(customer).order_by("at", "id")
    ]


def _csv_bytes(rows: list[dict]) -> bytes:
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else _csv_cell(v)
                for v in (row.get(k) for k in header)
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode()


def _csv_cell(value: Any) -> Any:
    return "" if value is None else escape_cell(value)


@transaction.atomic
def customer_export(*, customer: Customer, actor: User | None) -> tuple[str, bytes]:
    """Everything held about ``customer`` as a ZIP (one JSON and one CSV per section plus a
    manifest). Returns (file name, bytes). The export itself is audited (invariant 8)."""
    data = privacy.export_sections(customer=customer)
    generated = timezone.now()
    manifest = {
        "member_number": customer.member_number,
        "generated_at": generated.isoformat(),
        "sections": {name: len(rows) for name, rows in data.items()},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, rows in data.items():
            archive.writestr(
                f"{name}.json", json.dumps(rows, indent=2, ensure_ascii=False, default=str)
            )
            archive.writestr(f"{name}.csv", _csv_bytes(rows))
    audit_record(
        actor=actor,
        action="customer.export",
        target=customer,
        summary="personal data export",
        after={"sections": manifest["sections"]},
    )
    filename = f"clientele-{customer.member_number}-{generated:%Y%m%d}.zip"
    return filename, buf.getvalue()
