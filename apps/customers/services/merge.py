"""Merging duplicate customers: one person, two memberships (a till enrolment and a portal
sign-up, an import that missed a phone, a typo in an e-mail) become one.

``customer_merge(source=, target=, actor=, reason=)`` keeps ``target`` (the survivor) and folds
``source`` into it, in one transaction:

* Every app moves its rows through the personal-data registry (``apps.core.privacy``,
  ``merge=``): this app moves orders, consent history, interactions and portal messages; the
  loyalty app moves the points as one audited transfer pair of ledger rows, the lots, coupons,
  redemptions, badges and referrals and re-evaluates the survivor's tier; later apps (tickets,
  survey responses) register the same way.
* Consents: every ``ConsentRecord`` of the source moves, so the history is whole and the
  survivor's current consent per channel and purpose is, as always, the latest record by time.
  The change of the survivor's current consents is in the audit event (invariant 8).
* Profile: the survivor keeps its own values and only fills blanks (e-mail, phone, names,
  birth date, gender, city, region, enrolment store) from the source; it keeps the earlier
  ``joined_at`` (the person's membership is as old as their first card). Tags are united, less
  the ``portal-review`` tag: the review is what the merge settles.
* Portal login: a person signs in with one account. If only the source has one, it moves to
  the survivor. If both have one, the survivor keeps its own; the source's is detached,
  deactivated and signed out everywhere (its e-mail address stays taken, so it cannot become a
  third membership by accident), and the audit event names it.
* The source keeps its row, its own ledger chain (which ends in the transfer debit) and its
  audit history, and points at the survivor (``merged_into``, ``merged_at``): its member number
  still resolves at the till, in the API and on staff pages (``customer_get``), and it leaves
  every list, search, count and job. Customers that were merged into the source now point at
  the survivor, so a pointer is always one hop.

Refused, with nothing written: merging a customer into itself, a customer already merged
(either side: so a second merge of the same pair is refused cleanly), an anonymised customer,
an actor without ``customers.merge_customer``, a merge without a reason.

Concurrency: both customer rows are locked in primary-key order (FOR NO KEY UPDATE: inserting
an order or a coupon that names a customer does not wait for it, but another merge, a claim, a
consent change or an order that checks its customer does) and re-read under the lock, so of
two merges involving the same customer one wins and the other is refused; the loyalty merger
then locks both accounts in primary-key order, like every ledger writer.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events, privacy
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record
from apps.core.text import text_check

from ..enums import REVIEW_TAG
from ..exceptions import MergeNotAllowed, MergeRefused
from ..models import ConsentRecord, Customer, Interaction, Order, PortalMessage
from .consent import _latest_consents
from .erasure import sessions_end
from .profile import PERSONAL_FIELDS, _refresh_search_text

# Filled on the survivor from the source when the survivor's is blank.
FILLABLE_FIELDS = [*PERSONAL_FIELDS, "store"]


# --- this app's rows (registered as privacy sections in CustomersConfig.ready) ---------------


def merge_orders(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    return {"orders": Order.objects.filter(customer=source).update(customer=target)}


def merge_consents(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    return {"records": ConsentRecord.objects.filter(customer=source).update(customer=target)}


def merge_interactions(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    return {"interactions": Interaction.objects.filter(customer=source).update(customer=target)}


def merge_messages(*, source: Customer, target: Customer, actor: Any) -> dict[str, int]:
    return {"messages": PortalMessage.objects.filter(customer=source).update(customer=target)}


# --- the merge --------------------------------------------------------------------------------


def _lock_pair(source: Customer, target: Customer) -> tuple[Customer, Customer]:
    rows = {
        c.pk: c
        for c in Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    return rows[source.pk], rows[target.pk]


def customer_merge_check(*, source: Customer, target: Customer) -> None:
    """Raise ``MergeRefused`` (with its ``code``) unless ``source`` may be merged into
    ``target``, as they are now. The merge checks again under its locks."""
    if source.pk == target.pk:
        raise MergeRefused(
            _("A customer cannot be merged into itself."), code="merge_same_customer"
        )
    for customer in (source, target):
        if customer.merged_into_id is not None:
            raise MergeRefused(
                _("%(number)s was already merged into another customer.")
                % {"number": customer.member_number},
                code="merge_already_merged",
            )
        if customer.anonymized_at is not None:
            raise MergeRefused(
                _("%(number)s is anonymised; an erased customer cannot be merged.")
                % {"number": customer.member_number},
                code="merge_anonymised",
            )


def _consent_changes(before: dict, after: dict) -> dict[str, list]:
    return {
        f"{channel}/{purpose}": [before.get((channel, purpose)), granted]
        for (channel, purpose), granted in sorted(after.items())
        if before.get((channel, purpose)) is not granted
    }


def _merge_profile(source: Customer, target: Customer) -> list[str]:
    """Fill the survivor's blanks from the source; keep the earlier ``joined_at``."""
    filled = []
    for name in FILLABLE_FIELDS:
        attname = Customer._meta.get_field(name).attname
        if getattr(target, attname) in ("", None) and getattr(source, attname) not in ("", None):
            setattr(target, attname, getattr(source, attname))
            filled.append(name)
    if source.joined_at < target.joined_at:
        target.joined_at = source.joined_at
        filled.append("joined_at")
    return filled


def _merge_tags(source: Customer, target: Customer) -> int:
    have = set(target.tags.values_list("pk", flat=True))
    moved = [t for t in source.tags.exclude(name__iexact=REVIEW_TAG) if t.pk not in have]
    target.tags.add(*moved)
    target.tags.remove(*target.tags.filter(name__iexact=REVIEW_TAG))
    return len(moved)


def _merge_login(source: Customer, target: Customer) -> dict[str, Any]:
    """Move the source's portal login to the survivor, or, when the survivor has its own,
    detach and close it. Returns what happened, for the audit event."""
    if source.user_id is None:
        return {}
    user_id = source.user_id
    Customer.objects.filter(pk=source.pk).update(user=None)
    source.user = None
    if target.user_id is None:
        target.user_id = user_id
        return {"login_moved": user_id}
    # Closed, not erased: the account cannot sign in any more and every session ends; its
    # e-mail address stays, so it cannot enrol a new duplicate.
    user = User.objects.select_for_update().get(pk=user_id)
    sessions_end(user=user)
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    return {"login_closed": user_id}


@transaction.atomic
def customer_merge(
    *, source: Customer, target: Customer, actor: User, reason: str
) -> dict[str, int]:
    """Merge the duplicate ``source`` into ``target`` (see the module docstring); returns the
    counts of what moved. One transaction: refused (``MergeRefused``, ``MergeNotAllowed``,
    ``ValidationFailed``) or failed, nothing is written."""
    if actor is None or not actor.has_perm("customers.merge_customer"):
        raise MergeNotAllowed()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("A merge needs a reason."), field="reason")
    text_check(reason=reason)
    customer_merge_check(source=source, target=target)
    source, target = _lock_pair(source, target)
    customer_merge_check(source=source, target=target)  # as they are now, under the lock

    consents_before = _latest_consents(target)
    moved = privacy.merge_sections(source=source, target=target, actor=actor)
    moved["customers.tags"] = _merge_tags(source, target)
    login = _merge_login(source, target)
    filled = _merge_profile(source, target)
    _refresh_search_text(target)
    target.save()
    now = timezone.now()
    moved["customers.repointed"] = Customer.objects.filter(merged_into=source).update(
        merged_into=target
    )
    source.merged_into, source.merged_at = target, now
    source.save(update_fields=["merged_into", "merged_at", "updated_at"])
    consents = _consent_changes(consents_before, _latest_consents(target))

    summary = f"{source.member_number} -> {target.member_number}: {reason}"
    details = {
        "source": source.member_number,
        "target": target.member_number,
        "reason": reason,
        "moved": moved,
        "filled": filled,
        **login,
    }
    audit_record(
        actor=actor,
        action="customer.merge",
        target=target,
        summary=summary,
        before={"consents": {k: v[0] for k, v in consents.items()}},
        after={**details, "consents": {k: v[1] for k, v in consents.items()}},
    )
    audit_record(
        actor=actor, action="customer.merged_into", target=source, summary=summary, after=details
    )
    events.publish("customer.merged", source_id=source.pk, target_id=target.pk)
    return moved
