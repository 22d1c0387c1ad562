"""Who gets what: the deterministic A/B/holdout draw, and whether a customer can be reached on
a channel for a purpose right now. Reads only; the senders write."""

import hashlib
import re
from collections.abc import Iterable, Sequence

from allauth.account.models import EmailAddress
from django.db import connection

from apps.core.db import is_postgres
from apps.customers.enums import Channel
from apps.customers.selectors import consent_latest_bulk

from .enums import Purpose, Suppression
from .models import Campaign, Variant

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
# Namespace of the per-customer advisory locks that make the frequency cap hold across
# concurrent campaigns (two-key form: this, customer id).
CONTACT_LOCK = 0x6361_6D70  # "camp"


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by the parts: the same customer always draws the same."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign(*, campaign: Campaign, customer_id: int, variants: Sequence[Variant]) -> Variant | None:
    """The customer's group in the campaign: None for the holdout, else a variant drawn by
    weight. Deterministic per (campaign, customer): a retry, a later step of a journey or a
    re-run draws the same, and the groups are independent of anything about the customer."""
    if _unit(campaign.pk, customer_id, "holdout") * 100 < campaign.holdout_percent:
        return None
    if not variants:
        return None
    total = sum(v.weight for v in variants)
    point = _unit(campaign.pk, customer_id, "variant") * total
    for variant in variants:
        point -= variant.weight
        if point < 0:
            return variant
    return variants[-1]


def unverified_emails(customers) -> set[int]:
    """Of these customers, those whose e-mail belongs to their portal login but was never
    confirmed (one query): an unconfirmed sign-up may be a typo or someone else's address, so
    nothing is sent there. Addresses recorded by staff, tills or imports are taken as given."""
    with_login = {c.user_id: c.pk for c in customers if c.user_id and c.email}
    if not with_login:
        return set()
    rows = EmailAddress.objects.filter(user_id__in=list(with_login)).values_list(
        "user_id", "email", "verified"
    )
    verified = {(user_id, email.lower()) for user_id, email, ok in rows if ok}
    unconfirmed = {(user_id, email.lower()) for user_id, email, ok in rows if not ok}
    doubtful = unconfirmed - verified
    return {c.pk for c in customers if (c.user_id, c.email.lower()) in doubtful}


def address_ok(customer, channel: str, unverified: set[int] = frozenset()) -> bool:
    if channel == Channel.EMAIL:
        return (
            bool(customer.email)
            and bool(EMAIL_RE.match(customer.email))
            and customer.pk not in unverified
        )
    if channel == Channel.SMS:
        return bool(PHONE_RE.match(customer.phone or ""))
    return True  # the portal inbox is part of the membership


def consent_ok(granted: bool | None, purpose: str) -> Suppression | None:
    """None when the latest answer allows the purpose, else the suppression reason. Marketing
    needs a "yes"; a service message is refused only after an explicit "no"."""
    if granted is False:
        return Suppression.UNSUBSCRIBED
    if granted is None and purpose == Purpose.MARKETING:
        return Suppression.NO_CONSENT
    return None


def channel_choose(
    *,
    customer,
    channels: Sequence[str],
    consents: dict[tuple[int, str], bool],
    purpose: str,
    unverified: set[int] = frozenset(),
) -> tuple[str | None, Suppression | None]:
    """The channel to reach the customer on: their preferred one when the campaign uses it,
    else the campaign's channels in order; the first with consent and an address wins. With
    none, the reason that says most (unsubscribed, then no consent, then no address)."""
    ordered = sorted(channels, key=lambda c: c != customer.preferred_channel)
    reasons = []
    for channel in ordered:
        refusal = consent_ok(consents.get((customer.pk, channel)), purpose)
        if refusal is None and not address_ok(customer, channel, unverified):
            refusal = Suppression.INVALID_ADDRESS
        if refusal is None:
            return channel, None
        reasons.append(refusal)
    for reason in (Suppression.UNSUBSCRIBED, Suppression.NO_CONSENT, Suppression.INVALID_ADDRESS):
        if reason in reasons:
            return None, reason
    return None, Suppression.NO_CONSENT


def consents_for(*, customer_ids: list[int], purpose: str) -> dict[tuple[int, str], bool]:
    return consent_latest_bulk(customer_ids=customer_ids, purpose=purpose)


def contact_locks(customer_ids: Iterable[int]) -> None:
    """Serialise, per customer, everyone who counts or adds to their recent messages (the
    frequency cap across campaigns), until the end of the transaction. In customer order, so
    two campaigns never wait on each other in a cycle. SQLite serialises writers itself."""
    ids = sorted(set(customer_ids))
    if not ids or not is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, c) FROM unnest(%s::int[]) AS c ORDER BY c",
            [CONTACT_LOCK, ids],
        )
