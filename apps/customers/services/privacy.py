"""Privacy: preference centre, one-click unsubscribe, "download my data" and erasure.

* Consent changes append ``ConsentRecord`` rows (latest wins) with an audit event each.
* Unsubscribe tokens are signed (``django.core.signing``), carry member number, channel and
  purpose, never expire (an old e-mail's link must still work) and cannot be forged or altered.
* The export and the erasure go through ``apps.core.privacy``: this module registers the
  customers app's sections (profile, account, consents, orders, order lines, refunds,
  interactions, portal messages, privacy log, import data); apps above register theirs in
  ``ready()``, with the audit targets they own.
* Erasure anonymises the person and keeps the amounts: orders, lines and refunds keep totals,
  the loyalty ledger keeps its rows; names, contacts, birth date, places, free text, consent
  evidence, search text, the portal account's identity, the summaries and personal snapshot
  values of the audit events about them and import previews naming them are removed;
  sessions end. The digests of their e-mail and phone go on the suppression list
  (``ErasedContact``), which customer imports check so a stale file cannot bring them back.
"""

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core import privacy
from apps.core.db import is_postgres
from apps.core.exceptions import NotFound
from apps.core.models import AuditEvent
from apps.core.services import audit_record

from ..enums import Channel, ConsentPurpose
from ..identifiers import CONTACT_KINDS, contact_digest
from ..models import (
    ConsentRecord,
    Customer,
    ErasedContact,
    Interaction,
    Order,
    OrderLine,
    PortalMessage,
    Refund,
)
from .profile import _consent_write

UNSUBSCRIBE_SALT = "clientele.customers.unsubscribe"
ERASED_TEXT = "(erased)"
# Keys of audit snapshots that hold personal data (profile fields and account identity).
PERSONAL_KEYS = {
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "region",
    "full_name",
    # free text that may describe the person
    "reason",
    "notes",
    "fulfilment_notes",
    "refusal_reason",
    "evidence",
}


class UnsubscribeTokenInvalid(NotFound):
    code = "unsubscribe_token_invalid"
    default_message = gettext_lazy("This unsubscribe link is not valid.")


# --- consent -----------------------------------------------------------------------------


def _latest_consents(customer: Customer) -> dict[tuple[str, str], bool]:
    latest: dict[tuple[str, str], bool] = {}
    for channel, purpose, granted in (
        ConsentRecord.objects.filter(customer=customer)
        .order_by("at", "id")
        .values_list("channel", "purpose", "granted")
    ):
        latest[(channel, purpose)] = granted
    return latest


@transaction.atomic
def consent_preferences_save(
    *,
    customer: Customer,
    choices: dict[tuple[str, str], bool],
    actor: User | None,
    source: str = "portal",
    evidence: str = "",
    explicit: bool = False,
) -> list[ConsentRecord]:
    """Record the choices that differ from the current state. A never-answered pair that stays
    off records nothing, unless ``explicit`` (an unsubscribe is a deliberate "no" worth keeping).
    Each change is a history row plus an audit event (invariant 8)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    current = _latest_consents(customer)
    written = []
    for (channel, purpose), granted in sorted(choices.items()):
        before = current.get((channel, purpose))
        if before is granted or (before is None and not granted and not explicit):
            continue
        written.append(
            _consent_write(
                customer=customer,
                channel=channel,
                purpose=purpose,
                granted=granted,
                source=source,
                actor=actor,
                evidence=evidence,
            )
        )
    return written


def unsubscribe_token_make(*, customer: Customer, channel: str, purpose: str) -> str:
    return signing.dumps(
        {"m": customer.member_number, "c": channel, "p": purpose}, salt=UNSUBSCRIBE_SALT
    )


def unsubscribe_token_read(*, token: str) -> tuple[Customer, str, str]:
    """Customer, channel and purpose of a valid token; ``UnsubscribeTokenInvalid`` (404) for a
    forged, altered or malformed token or one of an anonymised customer."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        member_number, channel, purpose = str(data["m"]), str(data["c"]), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise UnsubscribeTokenInvalid() from exc
    if channel not in Channel.values or purpose not in ConsentPurpose.values:
        raise UnsubscribeTokenInvalid()
    customer = Customer.objects.filter(
        member_number=member_number, anonymized_at__isnull=True
    ).first()
    if customer is None:
        raise UnsubscribeTokenInvalid()
    return customer, channel, purpose


@transaction.atomic
def unsubscribe_apply(*, token: str, one_click: bool = False) -> tuple[Customer, str, str, bool]:
    """Withdraw the consent named by the token. Returns (customer, channel, purpose, changed);
    a repeat records nothing more. No personal data (IP, address) goes into the evidence."""
    customer, channel, purpose = unsubscribe_token_read(token=token)
    written = consent_preferences_save(
        customer=customer,
        choices={(channel, purpose): False},
        actor=None,
        source="unsubscribe_link",
        evidence="RFC 8058 one-click" if one_click else "unsubscribe page",
        explicit=True,
    )
    return customer, channel, purpose, bool(written)


# --- export ------------------------------------------------------------------------------


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


def _export_profile(*, customer: Customer) -> list[dict]:
    row = row_of(customer, exclude=("search_text",))
    row["tags"] = ", ".join(customer.tags.values_list("name", flat=True))
    row["store_name"] = customer.store.name if customer.store_id else ""
    return [row]


def _export_account(*, customer: Customer) -> list[dict]:
    if customer.user_id is None:
        return []
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    user = customer.user
    rows = [
        {
            "record": "user",
            "email": user.email,
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


def _export_consents(*, customer: Customer) -> list[dict]:
    return [
        row_of(r, exclude=("customer",))
        for r in ConsentRecord.objects.filter(customer=customer).order_by("at", "id")
    ]


def _export_orders(*, customer: Customer) -> list[dict]:
    rows = []
    for order in Order.objects.filter(customer=customer).select_related("store").order_by("id"):
        row = row_of(order, exclude=("customer",))
        row["store_name"] = order.store.name
        rows.append(row)
    return rows


def _export_order_lines(*, customer: Customer) -> list[dict]:
    return [
        row_of(line)
        for line in OrderLine.objects.filter(order__customer=customer).order_by("order_id", "id")
    ]


def _export_refunds(*, customer: Customer) -> list[dict]:
    return [row_of(r) for r in Refund.objects.filter(order__customer=customer).order_by("id")]


def _export_interactions(*, customer: Customer) -> list[dict]:
    return [
        row_of(i, exclude=("customer", "author"))
        for i in Interaction.objects.filter(customer=customer).order_by("at", "id")
    ]


def _export_messages(*, customer: Customer) -> list[dict]:
    return [
        row_of(m, exclude=("customer", "key"))
        for m in PortalMessage.objects.filter(customer=customer).order_by("sent_at", "id")
    ]


def _person_events(customer: Customer) -> "models.QuerySet[AuditEvent]":
    """Audit events about the customer, their portal account or anything a registered section
    owns for them (loyalty account, redemptions...), and events their account performed."""
    about = models.Q(target_type=Customer._meta.label_lower, target_id=str(customer.pk))
    if customer.user_id:
        about |= models.Q(target_type=User._meta.label_lower, target_id=str(customer.user_id))
        about |= models.Q(actor_id=customer.user_id)
    for kind, ids in privacy.audit_targets(customer=customer):
        about |= models.Q(target_type=kind, target_id__in=[str(i) for i in ids])
    return AuditEvent.objects.filter(about)


def _export_privacy_log(*, customer: Customer) -> list[dict]:
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
        for e in _person_events(customer).order_by("at", "id")
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
    from apps.core.exports import escape_cell

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


# --- suppression list of erased contacts ---------------------------------------------------

# PostgreSQL advisory lock serialising the list's writers (erasures, exclusive) with the
# imports that check it right before they insert (shared). Without it an import's check under
# READ COMMITTED could miss an erasure that commits between the check and the import's commit.
ERASED_CONTACTS_LOCK = 0x636C_6965_5F65_7261  # "clie_era"
ERASED_LOOKUP_CHUNK = 5000


def erased_contacts_lock(*, shared: bool) -> None:
    """Take the suppression list's lock until the end of the current transaction (PostgreSQL
    only; SQLite serialises writers by itself)."""
    if not is_postgres():
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ERASED_CONTACTS_LOCK])


def erased_digests_among(digests: Iterable[str]) -> set[str]:
    """The ``digests`` on the suppression list: one query per ERASED_LOOKUP_CHUNK digests."""
    wanted = sorted({d for d in digests if d})
    found: set[str] = set()
    for start in range(0, len(wanted), ERASED_LOOKUP_CHUNK):
        chunk = wanted[start : start + ERASED_LOOKUP_CHUNK]
        found.update(
            ErasedContact.objects.filter(digest__in=chunk).values_list("digest", flat=True)
        )
    return found


def _contacts_suppress(*, customer: Customer) -> int:
    """Put the digests of the customer's e-mail and phone on the suppression list (before the
    profile is blanked). Returns how many digests the customer had."""
    erased_contacts_lock(shared=False)
    digests = [d for kind in CONTACT_KINDS if (d := contact_digest(kind, getattr(customer, kind)))]
    now = timezone.now()
    ErasedContact.objects.bulk_create(
        [ErasedContact(digest=d, erased_at=now) for d in digests], ignore_conflicts=True
    )
    return len(digests)


# --- erasure -----------------------------------------------------------------------------


def _erase_messages(*, customer: Customer) -> None:
    PortalMessage.objects.filter(customer=customer).delete()


def _erase_interactions(*, customer: Customer) -> None:
    Interaction.objects.filter(customer=customer).update(summary=ERASED_TEXT, body="")


def _erase_consents(*, customer: Customer) -> None:
    ConsentRecord.objects.filter(customer=customer).update(evidence="")


def _erase_orders(*, customer: Customer) -> None:
    # Amounts stay for the books; only free text written about the person goes.
    Refund.objects.filter(order__customer=customer).update(reason="")


def _scrub(snapshot: Any) -> Any:
    if isinstance(snapshot, dict):
        return {k: (ERASED_TEXT if k in PERSONAL_KEYS else _scrub(v)) for k, v in snapshot.items()}
    return snapshot


def _erase_audit(*, customer: Customer) -> None:
    """Audit rows stay (who did what, when) but lose their free-text summaries and the
    personal values their snapshots captured; the member's own actions lose their name."""
    for event in _person_events(customer).iterator():
        event.before, event.after = _scrub(event.before), _scrub(event.after)
        event.summary = ERASED_TEXT if event.summary else ""
        event.save(update_fields=["before", "after", "summary"])
    if customer.user_id:
        AuditEvent.objects.filter(actor_id=customer.user_id).update(actor_label="erased member")


def _erase_imports(*, customer: Customer) -> None:
    from ..imports import import_jobs_scrub  # imports.py imports this package

    import_jobs_scrub(customer=customer)


def _erase_account(*, customer: Customer) -> None:
    """Deactivate the portal account, replace its identity, end every session."""
    if customer.user_id is None:
        return
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    user = User.objects.select_for_update().get(pk=customer.user_id)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in UserSession.objects.filter(user=user).values_list("session_key", flat=True):
        store(session_key=key).delete()
    UserSession.objects.filter(user=user).delete()
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    user.email = f"erased-{user.pk}@erased.invalid"
    user.full_name = ""
    user.language = ""
    user.is_active = False
    user.set_unusable_password()  # also invalidates any session we could not list
    user.save()
    for obj in (user, customer):
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        ).update(object_repr=ERASED_TEXT, change_message="")


def _erase_profile(*, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        first_name="",
        last_name="",
        email="",
        phone="",
        birth_date=None,
        gender="",
        city="",
        region="",
        search_text=customer.member_number,
        user=None,
        anonymized_at=timezone.now(),
        updated_at=timezone.now(),
    )


@transaction.atomic
def customer_erase(*, customer: Customer, actor: User | None) -> Customer:
    """Anonymise ``customer`` everywhere (invariant 10): every registered section's eraser
    runs, then the profile; order and ledger totals stay. Idempotent; audited without any
    personal value. When the member erases themselves, the audit names the erased account."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.anonymized_at is not None:
        return customer
    self_service = actor is not None and actor.pk is not None and actor.pk == customer.user_id
    _contacts_suppress(customer=customer)
    sections = privacy.erase_sections(customer=customer)
    if self_service:
        actor = User.objects.get(pk=actor.pk)  # now carries the anonymous placeholder
    customer.refresh_from_db()
    audit_record(
        actor=actor,
        action="customer.erase",
        target=customer,
        summary="self-service" if self_service else "by staff",
        after={"sections": sections},
    )
    return customer


privacy.register("profile", export=_export_profile, erase=_erase_profile, order=1000)
privacy.register("account", export=_export_account, erase=_erase_account, order=900)
privacy.register("consents", export=_export_consents, erase=_erase_consents)
privacy.register("orders", export=_export_orders, erase=_erase_orders)
privacy.register("order_lines", export=_export_order_lines)
privacy.register("refunds", export=_export_refunds)
privacy.register("interactions", export=_export_interactions, erase=_erase_interactions)
privacy.register("messages", export=_export_messages, erase=_erase_messages)
privacy.register("privacy_log", export=_export_privacy_log, erase=_erase_audit, order=950)
privacy.register("imports", erase=_erase_imports)
