"""Reads for customers. Views call these; they never build querysets themselves."""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Sum, Window, prefetch_related_objects
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import formatting
from apps.core.exceptions import NotFound
from apps.core.models import AuditEvent
from apps.core.timeline import TimelineEvent

from .enums import Channel, ConsentPurpose, InteractionKind, OrderStatus, StoreKind
from .exceptions import CustomerNotFound, OrderNotFound, StoreNotFound
from .identifiers import phone_code_cache_key
from .models import ConsentRecord, Customer, Interaction, Order, PortalMessage, Store, Tag

CUSTOMER_ORDERINGS = {
    "joined": ("joined_at", "id"),
    "-joined": ("-joined_at", "-id"),
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "member": ("member_number",),
    "-member": ("-member_number",),
}


def customer_search(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Search-as-you-type: every word must appear in name, e-mail, phone or member number.
    A phone typed with spaces or dashes is matched by its digits."""
    query = query.strip().lower()
    if not query:
        return qs
    compact = re.sub(r"[\s\-()]", "", query)
    if compact.lstrip("+").isdigit():
        return qs.filter(search_text__contains=compact.lstrip("+"))
    for word in query.split()[:5]:
        qs = qs.filter(search_text__contains=word)
    return qs


def customers_active(qs: QuerySet[Customer] | None = None) -> QuerySet[Customer]:
    """Customers that are members in their own right: not merged into another customer. Lists,
    searches, counts and jobs start here; a merged-away customer is reached only by its member
    number (``customer_get``), which leads to the survivor."""
    return (Customer.objects.all() if qs is None else qs).filter(merged_into__isnull=True)


# A survivor is never merged itself (``customer_merge`` re-points a merged-away customer's own
# duplicates to the new survivor), so one hop is the rule; the bound only guards a bad row.
MERGE_CHAIN_LIMIT = 16


def customer_survivor(customer: Customer) -> Customer:
    """``customer`` itself, or the customer it was merged into (following the chain)."""
    for _hop in range(MERGE_CHAIN_LIMIT):
        if customer.merged_into_id is None:
            return customer
        customer = Customer.objects.select_related("store", "user").get(pk=customer.merged_into_id)
    raise RuntimeError(f"Merge chain of customer {customer.pk} is too long or circular.")


def customer_list(
    *,
    query: str = "",
    tag: str = "",
    store: str = "",
    source: str = "",
    portal: str = "",
    ordering: str = "-joined",
) -> QuerySet[Customer]:
    qs = customers_active(Customer.objects.select_related("store", "user"))
    qs = customer_search(qs, query)
    if tag:
        qs = qs.filter(tags__name=tag)
    if store:
        qs = qs.filter(store__code=store)
    if source:
        qs = qs.filter(source=source)
    if portal == "yes":
        qs = qs.filter(user__isnull=False)
    elif portal == "no":
        qs = qs.filter(user__isnull=True)
    return qs.order_by(*CUSTOMER_ORDERINGS.get(ordering, CUSTOMER_ORDERINGS["-joined"]))


def customer_get(*, member_number: str, follow_merge: bool = True) -> Customer:
    """The customer with this member number; a merged-away member number leads to the survivor
    (old cards keep working at the till, in the API and on staff pages). ``follow_merge=False``
    gives the record itself (the merge page must show exactly what staff named)."""
    customer = (
        Customer.objects.select_related("store", "user").filter(member_number=member_number).first()
    )
    if customer is None:
        raise CustomerNotFound()
    return customer_survivor(customer) if follow_merge else customer


def customer_lookup(
    *, member_number: str = "", email: str = "", phone: str = ""
) -> QuerySet[Customer]:
    """Exact lookups used by tills: by member number, e-mail or E.164 phone. Merged-away
    customers are left out; their member number finds the survivor."""
    qs = customers_active(Customer.objects.select_related("store")).filter(
        anonymized_at__isnull=True
    )
    if member_number:
        survivor = (
            Customer.objects.filter(member_number=member_number)
            .values_list("merged_into_id", flat=True)
            .first()
        )
        qs = qs.filter(pk=survivor) if survivor else qs.filter(member_number=member_number)
    if email:
        qs = qs.filter(email=email.strip().lower())
    if phone:
        qs = qs.filter(phone=phone)
    return qs


def store_get(*, code: str) -> Store:
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise StoreNotFound()
    return store


def order_get(*, store_code: str, external_id: str) -> Order:
    order = (
        Order.objects.select_related("store", "customer")
        .filter(store__code=store_code, external_id=external_id)
        .first()
    )
    if order is None:
        raise OrderNotFound()
    return order


def order_list(
    *, customer: Customer | None = None, store: str = "", query: str = ""
) -> QuerySet[Order]:
    qs = Order.objects.select_related("store", "customer")
    if customer is not None:
        qs = qs.filter(customer=customer)
    if store:
        qs = qs.filter(store__code=store)
    if query:
        qs = qs.filter(Q(external_id__startswith=query) | Q(customer__member_number=query))
    return qs.order_by("-placed_at", "-id")


def order_list_for_customer(
    *, customer: Customer, limit: int = 20, lines_for: int | None = None
) -> list[Order]:
    """The newest ``limit`` orders with their store and lines; ``lines_for``: only the newest
    that many carry their lines (the 360° page reads 50 orders for its timeline and shows the
    lines of 20)."""
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("store")
        .order_by("-placed_at", "-id")[:limit]
    )
    prefetch_related_objects(orders[:lines_for], "lines")
    return orders


@dataclass(frozen=True)
class CustomerStats:
    orders: int
    spend: Decimal
    refunded: Decimal
    last_order_at: object
    average_order: Decimal


def customer_stats(*, customer: Customer) -> CustomerStats:
    agg = Order.objects.filter(customer=customer).aggregate(
        n=Count("id"), spend=Sum("total"), refunded=Sum("refunded_amount"), last=Max("placed_at")
    )
    spend = agg["spend"] or Decimal(0)
    n = agg["n"] or 0
    return CustomerStats(
        orders=n,
        spend=spend,
        refunded=agg["refunded"] or Decimal(0),
        last_order_at=agg["last"],
        average_order=(spend / n).quantize(Decimal("0.01")) if n else Decimal(0),
    )


def consent_current(*, customer: Customer) -> dict[tuple[str, str], ConsentRecord | None]:
    """Latest consent per (channel, purpose); None where the customer never answered."""
    current: dict[tuple[str, str], ConsentRecord | None] = {
        (c, p): None for c in Channel.values for p in ConsentPurpose.values
    }
    records = ConsentRecord.objects.filter(customer=customer)
    if connection.features.can_distinct_on_fields:
        # The latest per (channel, purpose) only: at most nine rows, whatever the history.
        records = records.order_by("channel", "purpose", "-at", "-id").distinct(
            "channel", "purpose"
        )
    else:
        records = records.order_by("at", "id")
    for record in records:
        current[(record.channel, record.purpose)] = record
    return current


def consent_history(*, customer: Customer) -> QuerySet[ConsentRecord]:
    return (
        ConsentRecord.objects.filter(customer=customer)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def _consents_and_history(
    *, customer: Customer, limit: int
) -> tuple[dict[tuple[str, str], ConsentRecord | None], list[ConsentRecord]]:
    """``consent_current`` and the newest ``limit`` rows of ``consent_history`` in one query:
    the rows that are among the newest ``limit`` or the latest of their channel and purpose."""
    newest = [F("at").desc(), F("id").desc()]
    rows = list(
        consent_history(customer=customer)
        .annotate(
            overall=Window(RowNumber(), order_by=newest),
            of_kind=Window(RowNumber(), partition_by=[F("channel"), F("purpose")], order_by=newest),
        )
        .filter(Q(overall__lte=limit) | Q(of_kind=1))
    )
    current: dict[tuple[str, str], ConsentRecord | None] = {
        (c, p): None for c in Channel.values for p in ConsentPurpose.values
    }
    current.update({(r.channel, r.purpose): r for r in rows if r.of_kind == 1})
    return current, [r for r in rows if r.overall <= limit]


def consent_is_granted(*, customer: Customer, channel: str, purpose: str) -> bool:
    latest = (
        ConsentRecord.objects.filter(customer=customer, channel=channel, purpose=purpose)
        .order_by("-at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


def interaction_list(*, customer: Customer, limit: int = 50) -> list[Interaction]:
    return list(Interaction.objects.filter(customer=customer).select_related("author")[:limit])


# --- timeline sources -----------------------------------------------------------------------


# The timeline's sources (``apps.core.timeline``, registered in ``CustomersConfig.ready``): the
# customer's rows of a kind, and their events once the timeline has windowed them.


def orders_timeline_rows(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer)


def orders_timeline(orders: QuerySet[Order], *, customer: Customer) -> list[TimelineEvent]:
    title = _("Order %(id)s at %(store)s")
    return [
        TimelineEvent(
            at=order.placed_at,
            kind="order",
            icon="bag",
            title=title % {"id": order.external_id, "store": order.store.name},
            detail=f"{formatting.money(order.total)} · "
            f"{formatting.choice_label(OrderStatus, order.status)}",
        )
        for order in orders.select_related("store")
    ]


def interactions_timeline_rows(*, customer: Customer) -> QuerySet[Interaction]:
    return Interaction.objects.filter(customer=customer)


def interactions_timeline(
    interactions: QuerySet[Interaction], *, customer: Customer
) -> list[TimelineEvent]:
    return [
        TimelineEvent(
            at=i.at,
            kind="interaction",
            icon="chat",
            title=f"{formatting.choice_label(InteractionKind, i.kind)}: {i.summary}",
            detail=i.author.display_name if i.author else "",
        )
        for i in interactions.select_related("author")
    ]


def consent_timeline_rows(*, customer: Customer) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(customer=customer)


def consent_timeline(
    records: QuerySet[ConsentRecord], *, customer: Customer
) -> list[TimelineEvent]:
    granted, withdrawn = _("Consent granted: %(what)s"), _("Consent withdrawn: %(what)s")
    return [
        TimelineEvent(
            at=c.at,
            kind="consent",
            icon="shield",
            title=(granted if c.granted else withdrawn)
            % {
                "what": f"{formatting.choice_label(Channel, c.channel)} / "
                f"{formatting.choice_label(ConsentPurpose, c.purpose)}"
            },
            detail=c.source_label,
        )
        for c in records
    ]


# --- portal (member-scoped reads) ------------------------------------------------------------


def customer_get_for_member(*, user) -> Customer | None:
    """The membership of a signed-in portal user, or None (not linked yet, or anonymised)."""
    if user is None or not user.is_authenticated:
        return None
    return (
        Customer.objects.select_related("store")
        .filter(user=user, anonymized_at__isnull=True, merged_into__isnull=True)
        .first()
    )


def portal_message_list_for_member(*, customer: Customer) -> QuerySet:
    return PortalMessage.objects.filter(customer=customer).order_by("-sent_at", "-id")


def portal_message_get_for_member(*, customer: Customer, message_id: int):
    """One of the member's own messages; another member's id is simply not found (404)."""
    message = PortalMessage.objects.filter(customer=customer, pk=message_id).first()
    if message is None:
        raise NotFound()
    return message


def portal_unread_count(*, customer: Customer) -> int:
    return PortalMessage.objects.filter(customer=customer, read_at__isnull=True).count()


PRIVACY_ACTIONS = (
    "consent.grant",
    "consent.withdraw",
    "membership.claim",
    "customer.export",
    "customer.erase",
    "customer.create",
    "customer.merge",
    "customer.merged_into",
)


@dataclass(frozen=True)
class PrivacySummary:
    has_account: bool
    account_active: bool
    account_email: str
    last_login: object
    date_joined: object
    two_factor: bool
    sessions: int
    verified_emails: list
    unverified_emails: list
    sign_in_phone: str  # the portal account's verified mobile number (signs in by SMS code)
    phone: str
    consents: dict
    consent_history: list
    audit_trail: list
    anonymized_at: object


def customer_privacy_summary(*, customer: Customer, history_limit: int = 20) -> PrivacySummary:
    """What the staff 360 page shows about the portal account and privacy: account status,
    verified contacts, current consents, consent history and the privacy audit trail.
    A fixed number of queries whatever the history length."""
    user = customer.user if customer.user_id else None
    addresses = list(EmailAddress.objects.filter(user=user)) if user else []
    consents, history = _consents_and_history(customer=customer, limit=history_limit)
    return PrivacySummary(
        has_account=user is not None,
        account_active=bool(user and user.is_active),
        account_email=(user.email or "") if user else "",
        last_login=user.last_login if user else None,
        date_joined=user.date_joined if user else None,
        two_factor=bool(user) and Authenticator.objects.filter(user=user).exists(),
        sessions=UserSession.objects.filter(user=user).count() if user else 0,
        verified_emails=[a.email for a in addresses if a.verified],
        unverified_emails=[a.email for a in addresses if not a.verified],
        sign_in_phone=user.phone if user and user.phone_verified else "",
        phone=customer.phone,
        consents=consents,
        consent_history=history,
        audit_trail=list(
            AuditEvent.objects.filter(
                target_type=Customer._meta.label_lower,
                target_id=str(customer.pk),
                action__in=PRIVACY_ACTIONS,
            )
            .select_related("actor")
            .order_by("-at", "-id")[:history_limit]
        ),
        anonymized_at=customer.anonymized_at,
    )


# --- staff dashboard reads ------------------------------------------------------------------


def customer_list_for_staff(**filters: str) -> QuerySet[Customer]:
    """``customer_list`` with what the staff table shows per row (store, tags) loaded up front,
    so a page costs the same number of queries whatever its size."""
    return customer_list(**filters).prefetch_related("tags")


def customer_quick_search(*, query: str, limit: int = 8) -> tuple[list[Customer], bool]:
    """The top bar's search as you type: the ``limit`` newest members matching ``query`` (the
    customer list's search, one query on its trigram index) and whether there are more."""
    if not query.strip():
        return [], False
    found = list(
        customer_search(Customer.objects.all(), query)
        .only("member_number", "first_name", "last_name", "email", "phone", "anonymized_at")
        .order_by("-joined_at", "-id")[: limit + 1]
    )
    return found[:limit], len(found) > limit


def customer_list_recent(*, limit: int = 8) -> list[Customer]:
    return list(
        customers_active(Customer.objects.select_related("store"))
        .prefetch_related("tags")
        .order_by("-joined_at", "-id")[:limit]
    )


def tag_list_for_customer(*, customer: Customer) -> list[Tag]:
    return list(customer.tags.order_by("name"))


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


def tag_get(*, pk: int) -> Tag | None:
    return Tag.objects.filter(pk=pk).first()


def store_list(*, active_only: bool = False) -> QuerySet[Store]:
    qs = Store.objects.order_by("name")
    return qs.filter(is_active=True) if active_only else qs


def store_list_for_pickup() -> QuerySet[Store]:
    """Stores where a member can collect a reward: open shops and partners (not online)."""
    return Store.objects.filter(is_active=True).exclude(kind=StoreKind.ONLINE).order_by("name")


@dataclass(frozen=True)
class CustomerSummary:
    customers: int
    new_customers: int
    orders: int
    revenue: Decimal
    days: int


def customer_summary(*, days: int = 30, now: dt.datetime | None = None) -> CustomerSummary:
    """Headline counts for the staff home page in two aggregate queries. Revenue is net of
    refunds."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    people = customers_active().aggregate(
        total=Count("id"), new=Count("id", filter=Q(joined_at__gte=since))
    )
    sales = Order.objects.filter(placed_at__gte=since).aggregate(
        n=Count("id"), revenue=Sum(F("total") - F("refunded_amount"))
    )
    return CustomerSummary(
        customers=people["total"] or 0,
        new_customers=people["new"] or 0,
        orders=sales["n"] or 0,
        revenue=sales["revenue"] or Decimal(0),
        days=days,
    )


# --- REST API reads -------------------------------------------------------------------------


def customer_list_for_api(
    *, member_number: str = "", email: str = "", phone: str = ""
) -> QuerySet[Customer]:
    """``customer_lookup`` (exact, anonymised members left out; no filter lists everyone) with
    what the API representation shows (store, tags) loaded up front."""
    return customer_lookup(member_number=member_number, email=email, phone=phone).prefetch_related(
        "tags"
    )


def customer_member_numbers(*, ids: set[int]) -> dict[int, str]:
    """Member number of each customer id (one query; for links to customer pages)."""
    return dict(Customer.objects.filter(pk__in=ids).order_by().values_list("pk", "member_number"))


def phone_code_pending(*, user) -> str:
    """The phone number an SMS code was sent to for this portal account and not yet used, or
    ""."""
    state = cache.get(phone_code_cache_key(user.pk))
    return state["phone"] if state else ""


def verified_email_get(*, user) -> str:
    """The user's verified e-mail address (lower case), or "" if none is verified yet."""
    address = (
        EmailAddress.objects.filter(user=user, verified=True)
        .order_by("-primary", "id")
        .values_list("email", flat=True)
        .first()
    )
    return (address or "").strip().lower()


def customer_get_by_contact(*, email: str = "", phone: str = "") -> Customer | None:
    """The active customer with this e-mail (any case) or phone (E.164), if any."""
    match = Q()
    if email:
        match |= Q(email__iexact=email.strip())
    if phone:
        match |= Q(phone=phone)
    if not match:
        return None
    return customers_active().filter(match, anonymized_at__isnull=True).order_by("pk").first()


def consent_latest_bulk(*, customer_ids: list[int], purpose: str) -> dict[tuple[int, str], bool]:
    """Latest consent for ``purpose`` per (customer, channel), for many customers in one query;
    a pair never answered is absent. A campaign reads this at send time (invariant 6)."""
    latest: dict[tuple[int, str], bool] = {}
    for customer_id, channel, granted in (
        ConsentRecord.objects.filter(customer_id__in=customer_ids, purpose=purpose)
        .order_by("customer_id", "channel", "at", "id")
        .values_list("customer_id", "channel", "granted")
    ):
        latest[(customer_id, channel)] = granted
    return latest
