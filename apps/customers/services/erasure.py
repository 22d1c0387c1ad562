"""Erasure (invariant 10): anonymise the person and keep the amounts. Orders, lines and refunds
keep totals, the loyalty ledger keeps its rows; names, contacts, birth date, places, free text,
consent evidence, search text, the portal account's identity, the summaries and personal
snapshot values of the audit events about them and import previews naming them are removed;
sessions end. The digests of their e-mail and phone go on the suppression list
(``apps.customers.suppression``), which customer imports check. Every registered privacy
section's eraser runs (``apps.core.privacy``; sections register in ``AppConfig.ready()``).
"""

from importlib import import_module
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core import events, privacy
from apps.core.models import AuditEvent
from apps.core.services import audit_record

from ..models import ConsentRecord, Customer, Interaction, PortalMessage, Refund
from ..suppression import ERASED_TEXT, contacts_suppress
from .export import person_audit_events
from .profile import PERSONAL_FIELDS

# Keys of audit snapshots that hold personal data (profile fields and account identity).
PERSONAL_KEYS = {
    *PERSONAL_FIELDS,
    "full_name",
    # free text that may describe the person
    "reason",
    "notes",
    "fulfilment_notes",
    "refusal_reason",
    "evidence",
}


def erase_messages(*, customer: Customer) -> None:
    PortalMessage.objects.filter(customer=customer).delete()


def erase_interactions(*, customer: Customer) -> None:
    Interaction.objects.filter(customer=customer).update(summary=ERASED_TEXT, body="")


def erase_consents(*, customer: Customer) -> None:
    ConsentRecord.objects.filter(customer=customer).update(evidence="")


def erase_orders(*, customer: Customer) -> None:
    # Amounts stay for the books; only free text written about the person goes.
    Refund.objects.filter(order__customer=customer).update(reason="")


def _scrub(snapshot: Any) -> Any:
    if isinstance(snapshot, dict):
        return {k: (ERASED_TEXT if k in PERSONAL_KEYS else _scrub(v)) for k, v in snapshot.items()}
    return snapshot


def erase_audit(*, customer: Customer) -> None:
    """Audit rows stay (who did what, when) but lose their free-text summaries and the
    personal values their snapshots captured; the member's own actions lose their name."""
    for event in person_audit_events(customer).iterator():
        event.before, event.after = _scrub(event.before), _scrub(event.after)
        event.summary = ERASED_TEXT if event.summary else ""
        event.save(update_fields=["before", "after", "summary"])
    if customer.user_id:
        AuditEvent.objects.filter(actor_id=customer.user_id).update(actor_label="erased member")


def sessions_end(*, user: User) -> None:
    """Sign the account out everywhere: every session it has is deleted."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in UserSession.objects.filter(user=user).values_list("session_key", flat=True):
        store(session_key=key).delete()
    UserSession.objects.filter(user=user).delete()


def erase_account(*, customer: Customer) -> None:
    """Deactivate the portal account, replace its identity, end every session."""
    if customer.user_id is None:
        return
    user = User.objects.select_for_update().get(pk=customer.user_id)
    sessions_end(user=user)
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    user.email = f"erased-{user.pk}@erased.invalid"
    user.phone, user.phone_verified = "", False  # the number may sign up again, afresh
    user.full_name = ""
    user.language = ""
    user.is_active = False
    user.set_unusable_password()  # also invalidates any session we could not list
    user.save()
    for obj in (user, customer):
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        ).update(object_repr=ERASED_TEXT, change_message="")


def erase_profile(*, customer: Customer) -> None:
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
    runs, then the profile; order and ledger totals stay. Customers merged into it are erased
    with it (each with its own audit event). Idempotent; audited without any personal value.
    When the member erases themselves, the audit names the erased account."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.anonymized_at is not None:
        return customer
    # The person's earlier duplicates, merged into this customer, still hold their old names
    # and contacts: they are the same person's data and go too.
    for merged in Customer.objects.filter(merged_into=customer, anonymized_at__isnull=True):
        customer_erase(customer=merged, actor=actor)
    self_service = actor is not None and actor.pk is not None and actor.pk == customer.user_id
    contacts_suppress(customer=customer)
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
    events.publish("customer.erased", customer_id=customer.pk)
    return customer
