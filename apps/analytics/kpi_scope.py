"""Which members and orders a KPI counts (:class:`Scope`: the programme, a store, a tier or a
segment) and over which days (:class:`Window`: ``days`` days ending with a business day)."""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.customers.enums import OrderStatus
from apps.customers.models import Customer, Order

from .models import Segment
from .rules.compiler import segment_customers

DEFAULT_WINDOW = 30
WINDOWS = (7, 30, 90, 365)


@dataclass(frozen=True)
class Scope:
    """Which members and orders a figure counts. At most one of store, tier and segment."""

    store_id: int | None = None
    tier_id: int | None = None
    segment_id: int | None = None
    # The segment's rules, read once per scope (a page computes dozens of figures in one).
    _segment_rules: list = field(default_factory=list, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        if self.store_id:
            return f"store:{self.store_id}"
        if self.tier_id:
            return f"tier:{self.tier_id}"
        if self.segment_id:
            return f"segment:{self.segment_id}"
        return "all"

    @property
    def is_all(self) -> bool:
        return self.key == "all"

    @classmethod
    def from_key(cls, key: str) -> "Scope":
        kind, _sep, value = key.partition(":")
        if kind in ("store", "tier", "segment") and value.isdigit():
            return cls(**{f"{kind}_id": int(value)})
        return cls()

    def members(self) -> QuerySet[Customer]:
        qs = Customer.objects.filter(merged_into__isnull=True)
        if self.store_id:
            qs = qs.filter(store_id=self.store_id)
        if self.tier_id:
            qs = qs.filter(loyalty_account__tier_id=self.tier_id)
        if self.segment_id:
            rules = self.segment_rules()
            if rules is None:  # a segment deleted since matches nobody
                return qs.none()
            qs = qs.filter(pk__in=segment_customers(rules).values("pk"))
        return qs

    def segment_rules(self) -> dict | None:
        """The segment's rules, None when it is gone."""
        if not self._segment_rules:
            segment = Segment.objects.filter(pk=self.segment_id).first()
            self._segment_rules.append(segment.rules if segment else None)
        return self._segment_rules[0]

    def orders(self) -> QuerySet[Order]:
        """Members' orders in scope: a store scope counts the orders placed in the store."""
        qs = Order.objects.filter(customer__isnull=False).exclude(status=OrderStatus.REFUNDED)
        if self.store_id:
            return qs.filter(store_id=self.store_id)
        if self.tier_id or self.segment_id:
            return qs.filter(customer__in=self.members())
        return qs

    def customer_filter(self, path: str) -> Q:
        """A filter on another model whose ``path`` leads to the customer."""
        if self.is_all:
            return Q()
        if self.store_id:
            return Q(**{f"{path}__store_id": self.store_id})
        return Q(**{f"{path}__in": self.members()})


EVERYONE = Scope()


@dataclass(frozen=True)
class Window:
    """``days`` days ending with ``day`` (inclusive), as aware datetimes ``[start, end)``."""

    day: dt.date
    days: int = DEFAULT_WINDOW

    @property
    def first_day(self) -> dt.date:
        return self.day - dt.timedelta(days=self.days - 1)

    @property
    def start(self) -> dt.datetime:
        return _midnight(self.first_day)

    @property
    def end(self) -> dt.datetime:
        return _midnight(self.day + dt.timedelta(days=1))

    def before(self, days: int | None = None) -> "Window":
        """The window ``days`` earlier (default: the one just before this one)."""
        return Window(self.day - dt.timedelta(days=days or self.days), self.days)


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
