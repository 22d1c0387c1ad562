"""Consent: the preference centre and one-click unsubscribe.

* Consent changes append ``ConsentRecord`` rows (latest wins) with an audit event each.
* Unsubscribe tokens are signed (``django.core.signing``), carry member number, channel and
  purpose, never expire (an old e-mail's link must still work) and cannot be forged or altered.
"""

from django.core import signing
from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.exceptions import ValidationFailed

from ..enums import MEMBER_SWITCHABLE_PURPOSES, Channel, ConsentPurpose
from ..exceptions import UnsubscribeTokenInvalid
from ..models import ConsentRecord, Customer
from ..selectors import customer_survivor
from .profile import _consent_write

UNSUBSCRIBE_SALT = "clientele.customers.unsubscribe"


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
    switchable: tuple[str, ...] = MEMBER_SWITCHABLE_PURPOSES,
) -> list[ConsentRecord]:
    """Record the choices that differ from the current state. A never-answered pair that stays
    off records nothing, unless ``explicit`` (an unsubscribe is a deliberate "no" worth keeping).
    Each change is a history row plus an audit event (invariant 8). A member switches only the
    purposes in ``MEMBER_SWITCHABLE_PURPOSES`` (whatever page they use); anything else is
    refused and nothing is written. An unsubscribe link names its own purpose (``switchable``
    is then every purpose: we minted the link for that message)."""
    for channel, purpose in choices:
        if purpose not in switchable or channel not in Channel.values:
            raise ValidationFailed(
                _("These contact preferences cannot be changed here."), field="purpose"
            )
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.merged_into_id is not None:
        # Merged while this request waited for the lock: the choice is the survivor's.
        customer = Customer.objects.select_for_update().get(pk=customer_survivor(customer).pk)
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
    forged, altered or malformed token or one of an anonymised customer. A token of a merged-away
    member number unsubscribes the survivor: the old e-mail's link must still work."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        member_number, channel, purpose = str(data["m"]), str(data["c"]), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise UnsubscribeTokenInvalid() from exc
    if channel not in Channel.values or purpose not in ConsentPurpose.values:
        raise UnsubscribeTokenInvalid()
    customer = Customer.objects.filter(member_number=member_number).first()
    customer = customer_survivor(customer) if customer is not None else None
    if customer is None or customer.anonymized_at is not None:
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
        switchable=tuple(ConsentPurpose.values),
    )
    if written:
        events.publish(
            "customer.unsubscribed", customer_id=customer.pk, channel=channel, purpose=purpose
        )
    return customer, channel, purpose, bool(written)
