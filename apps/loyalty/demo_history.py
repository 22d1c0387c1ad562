"""The demo programme's history, replayed week by week through the real services.

The customers step leaves members who enrolled over the last ~26 months and two years of their
orders and refunds. This replays the programme's weeks in order, from the first enrolment to
the anchor (today's midnight), each service told when things happen (``at`` / ``as_of``), so
every points movement is dated when it belongs and made on the balance of that time. Each week:

1. members who enrol get the welcome bonus (``signup_bonus_award``);
2. redemptions (``reward_redeem``), staff fulfilling or cancelling requested gifts
   (``redemption_fulfil`` / ``redemption_cancel``) and restocks, in time order;
3. the week's orders earn (``orders_earn_bulk`` as of the week's end: pending, as the 14-day
   return window is longer than a week, so no balance that step 2 used changes; tier upgrades
   and their gifts are dated the week's end);
4. refunds claw back (``refund_clawback``) and referred friends' first orders reward both
   sides (``referral_reward``);
5. the nightly jobs at the week's end: pending points mature, lots expire, birthday bonuses on
   their days, and the expiring-points reminders (``notify=False``: the lots are marked
   reminded, but nobody is messaged about the past; today the built-in journey sends them).

Members redeem the way members do: some when they come in (likelier the more points they hold),
some a few days after a reminder tells them points are about to expire. Gifts wait for staff,
who hand them over days later; a few are withdrawn or cancelled. Whatever nobody redeems expires
twelve months after it was earned, so the liability report's breakage is the programme's own.

Randomness comes from the step's seeded RNG and every query is ordered, so the same seed replays
the same history; ``verify_ledger`` is clean afterwards.
"""

from __future__ import annotations

import calendar
import datetime as dt
import heapq
import random
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import ApplicationError
from apps.customers import demo
from apps.customers.enums import StoreKind
from apps.customers.models import Customer, Order, Refund

from .enums import VOUCHER_KINDS, LotStatus, RedemptionStatus, ReferralStatus, RewardKind
from .models import LoyaltyAccount, PointsLot, Programme, Redemption, Referral, Reward
from .services.bonuses import signup_bonus_award
from .services.clawback import refund_clawback
from .services.configuration import reward_restock
from .services.earning_bulk import orders_earn_bulk
from .services.jobs import birthday_bonuses_award, points_expire_due, points_mature_due
from .services.redemption import redemption_cancel, redemption_fulfil, reward_redeem
from .services.referrals import referral_code_for, referral_reward
from .services.reminders import points_expiring_remind

WEEK = dt.timedelta(days=7)
BEFORE_EARNING = frozenset({"redeem", "fulfil", "withdraw", "cancel"})
AFTER_EARNING = frozenset({"refund", "referral"})
# Who redeems, and how much: the cheapest reward costs 500 points.
MIN_BALANCE = 500
VISIT_BASE, VISIT_PER_POINT, VISIT_MAX = 0.05, 1 / 20_000, 0.5
AFTER_REMINDER = 0.45
KIND_WEIGHT = {
    RewardKind.CASH_OFF: 5,
    RewardKind.VOUCHER: 2,
    RewardKind.PHYSICAL: 3,
    RewardKind.EXPERIENCE: 1,
    RewardKind.DONATION: 1,
}


@dataclass(order=True)
class _Event:
    at: dt.datetime
    seq: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


@dataclass
class HistoryResult:
    counts: dict[str, int]
    fulfilled: list[Redemption]  # gifts staff handed over (the inbox tells the member)


class _Replay:
    def __init__(self, ctx: demo.DemoContext, rng: random.Random) -> None:
        self.ctx = ctx
        self.rng = rng
        self.tz = timezone.get_current_timezone()
        self.manager: User | None = ctx.users.get("manager@example.com")
        self.customers: dict[int, Customer] = {
            c.pk: c for c in Customer.objects.filter(pk__in=ctx.customer_ids).order_by("pk")
        }
        self.rewards = list(
            Reward.objects.filter(is_active=True).select_related("min_tier").order_by("pk")
        )
        self.opening_stock = {r.pk: r.stock for r in self.rewards if r.stock is not None}
        self.queue: list[_Event] = []
        self.seq = 0
        self.counts: dict[str, int] = defaultdict(int)
        self.fulfilled: list[Redemption] = []
        self.redeemed_keys = 0
        self.reminder_days = Programme.get().reminder_days

    # --- scheduling -------------------------------------------------------------------------

    def schedule(self, at: dt.datetime, kind: str, **data) -> None:
        self.seq += 1
        heapq.heappush(self.queue, _Event(at, self.seq, kind, data))

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    # --- the replay -------------------------------------------------------------------------

    def run(self) -> HistoryResult:
        anchor = self.ctx.anchor
        orders = list(
            Order.objects.filter(customer_id__in=self.ctx.customer_ids)
            .order_by("placed_at", "pk")
            .values_list("pk", "customer_id", "placed_at", "store__kind")
        )
        first_order: dict[int, dt.datetime] = {}
        for _pk, customer_id, placed_at, _kind in orders:
            first_order.setdefault(customer_id, placed_at)
        joins = []
        for customer in self.customers.values():
            # Enrolled at the till with the first purchase: the bonus comes with the membership.
            first = first_order.get(customer.pk)
            same_day = first is not None and (
                timezone.localdate(first) == timezone.localdate(customer.joined_at)
            )
            joins.append(
                (min(customer.joined_at, first) if same_day else customer.joined_at, customer)
            )
        joins.sort(key=lambda j: (j[0], j[1].pk))
        for refund in (
            Refund.objects.filter(order__customer_id__in=self.ctx.customer_ids)
            .select_related("order")
            .order_by("at", "pk")
        ):
            self.schedule(refund.at, "refund", refund=refund)
        self._plan_referrals(first_order)
        birthdays = self._birthday_days()

        first_day = min(joins[0][0], orders[0][2]) if orders else joins[0][0]
        start = self.day_start(timezone.localdate(first_day))
        start -= dt.timedelta(days=start.weekday())  # weeks run Monday to Sunday
        o = j = 0
        while start < anchor:
            end = min(self.day_start(start.date() + WEEK), anchor)
            # 1. Enrolments: the welcome bonus.
            while j < len(joins) and joins[j][0] < end:
                signup_bonus_award(customer=joins[j][1], at=joins[j][0])
                j += 1
            # 2. Redemptions, fulfilment and cancellations, in time order. The week's orders
            # earn pending points (the return window is longer than a week), so they change no
            # balance these depend on.
            week = []
            while o < len(orders) and orders[o][2] < end:
                week.append(orders[o])
                o += 1
            if start.day <= 7:
                self._restock()
            self._visits(week)
            self._drain(end, BEFORE_EARNING)
            # 3. The week's orders earn; tier upgrades and their gifts are dated the week's end.
            if week:
                self.counts["orders earning points"] += orders_earn_bulk(
                    order_ids=[row[0] for row in week],
                    publish_earned=False,
                    at_order_time=True,
                    as_of=end,
                )
            # 4. Refunds and referral bonuses, which need the week's earnings.
            self._drain(end, AFTER_EARNING)
            # 5. The nightly jobs of the week, at its end; birthday bonuses on their days.
            self._night(end, birthdays.get(start.date(), []))
            start = end
        # Whatever is left is due after the anchor: gifts still waiting in the fulfilment queue.
        return HistoryResult(counts=dict(self.counts), fulfilled=self.fulfilled)

    def _drain(self, end: dt.datetime, kinds: frozenset[str]) -> None:
        """Handle the queued events of ``kinds`` before ``end``, in time order."""
        later = []
        while self.queue and self.queue[0].at < end:
            event = heapq.heappop(self.queue)
            if event.kind in kinds:
                self._handle(event)
            else:
                later.append(event)
        for event in later:
            heapq.heappush(self.queue, event)

    def _birthday_days(self) -> dict[dt.date, list[dt.date]]:
        """Members' birthdays after they enrolled, by the Monday of their week."""
        days: set[dt.date] = set()
        anchor = self.ctx.anchor.date()
        for customer in self.customers.values():
            born = customer.birth_date
            if born is None:
                continue
            joined = timezone.localdate(customer.joined_at)
            for year in range(joined.year, anchor.year + 1):
                day = born.day
                if born.month == 2 and day == 29 and not calendar.isleap(year):
                    day = 28
                birthday = dt.date(year, born.month, day)
                if joined < birthday < anchor:
                    days.add(birthday)
        by_week: dict[dt.date, list[dt.date]] = defaultdict(list)
        for day in sorted(days):
            by_week[day - dt.timedelta(days=day.weekday())].append(day)
        return by_week

    def _night(self, at: dt.datetime, birthdays: list[dt.date]) -> None:
        """The nightly jobs, run at the week's end (those with nothing to do are skipped: one
        aggregate says when each next has work)."""
        open_lots = Q(remaining__gt=0)
        due = PointsLot.objects.aggregate(
            mature=Min("available_at", filter=open_lots & Q(status=LotStatus.PENDING)),
            expire=Min("expires_at", filter=open_lots & Q(status=LotStatus.AVAILABLE)),
            remind=Min(
                "expires_at",
                filter=open_lots & Q(status=LotStatus.AVAILABLE, reminded_at__isnull=True),
            ),
        )
        if due["mature"] is not None and due["mature"] <= at:
            points_mature_due(as_of=at)
        if due["expire"] is not None and due["expire"] <= at:
            self.counts["lot expiries"] += points_expire_due(as_of=at)
        for day in birthdays:
            self.counts["birthday bonuses"] += birthday_bonuses_award(
                today=day, at=self.day_start(day)
            )
        window = dt.timedelta(days=self.reminder_days)
        remind = due["remind"] is not None and due["remind"] - window <= at
        if remind and points_expiring_remind(as_of=at, notify=False):
            self._after_reminders(at)

    # --- members redeeming ------------------------------------------------------------------

    def _balances(self, customer_ids) -> dict[int, tuple[int, int]]:
        return {
            customer_id: (balance, rank if rank is not None else -1)
            for customer_id, balance, rank in LoyaltyAccount.objects.filter(
                customer_id__in=customer_ids
            )
            .order_by("pk")
            .values_list("customer_id", "balance", "tier__rank")
        }

    def _visits(self, week: list[tuple]) -> None:
        """Members who come in with points to spend may redeem at the visit, the likelier the
        more they hold (the balance at the week's start: points only mature at its end)."""
        balances = self._balances({row[1] for row in week})
        for _pk, customer_id, placed_at, store_kind in week:
            balance = balances.get(customer_id, (0, -1))[0]
            if balance < MIN_BALANCE:
                continue
            if self.rng.random() < min(VISIT_MAX, VISIT_BASE + balance * VISIT_PER_POINT):
                channel = "store" if store_kind == StoreKind.OFFLINE else "portal"
                at = placed_at + dt.timedelta(minutes=self.rng.randint(2, 25))
                self.schedule(at, "redeem", customer_id=customer_id, channel=channel)

    def _after_reminders(self, at: dt.datetime) -> None:
        """A reminder works on some: they redeem online within a few days."""
        reminded = sorted(
            set(
                PointsLot.objects.filter(reminded_at=at).values_list(
                    "account__customer_id", flat=True
                )
            )
        )
        balances = self._balances(reminded)
        for customer_id in reminded:
            if balances.get(customer_id, (0, -1))[0] < MIN_BALANCE:
                continue
            if self.rng.random() < AFTER_REMINDER:
                when = at + dt.timedelta(days=self.rng.randint(0, 6), hours=self.rng.randint(8, 22))
                self.schedule(when, "redeem", customer_id=customer_id, channel="portal")

    def _restock(self) -> None:
        """At the start of a month the manager tops up gifts running low (below a quarter of
        their opening stock) through ``reward_restock``."""
        if self.manager is None:
            return
        for reward in self.rewards:
            opening = self.opening_stock.get(reward.pk)
            if opening and reward.stock is not None and reward.stock < opening / 4:
                fresh = reward_restock(
                    reward=reward, actor=self.manager, add=opening - reward.stock
                )
                reward.stock = fresh.stock
                self.counts["restocks"] += 1

    def _choose(self, balance: int, rank: int) -> Reward | None:
        """A reward the member can take, bigger ones likelier for bigger balances."""
        affordable = [
            r
            for r in self.rewards
            if r.cost_points <= balance
            and (r.min_tier is None or r.min_tier.rank <= rank)
            and (r.stock is None or r.stock > 0)
        ]
        if not affordable:
            return None
        weights = [KIND_WEIGHT.get(r.kind, 1) * (0.3 + r.cost_points / balance) for r in affordable]
        return self.rng.choices(affordable, weights=weights)[0]

    def _redeem(self, event: _Event) -> None:
        customer = self.customers[event.data["customer_id"]]
        balance, rank = self._balances([customer.pk]).get(customer.pk, (0, -1))
        reward = self._choose(balance, rank)
        if reward is None:
            return
        self.redeemed_keys += 1
        try:
            redemption = reward_redeem(
                customer=customer,
                reward=reward,
                key=f"demo:redeem:{self.redeemed_keys}",
                channel=event.data["channel"],
                at=event.at,
            )
        except ApplicationError:  # sold out or limit reached meanwhile: they pick nothing
            return
        if reward.stock is not None:
            reward.stock -= 1
        self.counts["redemptions"] += 1
        roll = self.rng.random()
        if redemption.status == RedemptionStatus.REQUESTED:
            if roll < 0.05:
                self.schedule(
                    event.at + dt.timedelta(hours=self.rng.randint(2, 60)),
                    "withdraw",
                    redemption=redemption,
                )
            elif roll < 0.09:
                self.schedule(
                    event.at + dt.timedelta(hours=self.rng.randint(20, 72)),
                    "cancel",
                    redemption=redemption,
                    reason="Out of stock at the member's store; points returned",
                )
            else:
                self.schedule(
                    event.at + dt.timedelta(days=self.rng.randint(1, 9), hours=2),
                    "fulfil",
                    redemption=redemption,
                    notes=self.rng.choice(["Collected in store", "Shipped with tracking"]),
                )
        elif reward.kind in VOUCHER_KINDS and roll < 0.02:
            self.schedule(
                event.at + dt.timedelta(days=self.rng.randint(1, 5)),
                "cancel",
                redemption=redemption,
                reason="Voucher redeemed by mistake, not used; points returned",
            )

    # --- referrals --------------------------------------------------------------------------

    def _plan_referrals(self, first_order: dict[int, dt.datetime]) -> None:
        """Some members joined through a friend (``Referral`` dated at the friend's
        enrolment); both are rewarded on the friend's first order (``referral_reward``)."""
        customers = sorted(self.customers.values(), key=lambda c: (c.joined_at, c.pk))
        third = len(customers) // 3
        for referee in self.rng.sample(customers[third:], k=min(60, third)):
            candidates = [c for c in customers[:third] if c.joined_at < referee.joined_at]
            if not candidates:
                continue
            referrer = self.rng.choice(candidates)
            referral = Referral.objects.create(
                referrer=referrer,
                referee=referee,
                code=referral_code_for(customer=referrer).code,
                status=ReferralStatus.PENDING,
                created_at=referee.joined_at,
            )
            self.counts["referrals"] += 1
            first = first_order.get(referee.pk)
            if first is not None:
                self.schedule(first + dt.timedelta(minutes=1), "referral", referral=referral)

    # --- dispatch ---------------------------------------------------------------------------

    def _handle(self, event: _Event) -> None:
        data = event.data
        if event.kind == "redeem":
            self._redeem(event)
        elif event.kind == "refund":
            refund_clawback(refund=data["refund"], at=event.at)
        elif event.kind == "referral":
            referral = Referral.objects.select_for_update().get(pk=data["referral"].pk)
            referral_reward(referral=referral, at=event.at)
        elif event.kind == "fulfil" and self.manager is not None:
            self.fulfilled.append(
                redemption_fulfil(
                    redemption=data["redemption"],
                    actor=self.manager,
                    notes=data["notes"],
                    at=event.at,
                )
            )
        elif event.kind == "withdraw":
            redemption_cancel(
                redemption=data["redemption"],
                reason=_("Cancelled by the member"),
                by_member=True,
                at=event.at,
            )
            self.counts["redemptions cancelled"] += 1
        elif event.kind == "cancel" and self.manager is not None:
            redemption_cancel(
                redemption=data["redemption"],
                actor=self.manager,
                reason=data["reason"],
                at=event.at,
            )
            self.counts["redemptions cancelled"] += 1


def history_replay(ctx: demo.DemoContext, rng: random.Random) -> HistoryResult:
    """Replay the programme from its first member to the anchor (see the module docstring)."""
    return _Replay(ctx, rng).run()
