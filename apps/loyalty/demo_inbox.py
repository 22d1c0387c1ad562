"""The demo members' inboxes: the messages a programme like this one sends over its history,
in both languages.

They are written from the templates in ``fixtures/loyalty_demo.json`` (``messages``), each at
the moment it belongs to: a welcome when the member enrolled, congratulations on each tier
upgrade (with the tier's benefits and gift), a birthday greeting with each birthday bonus, a
note when a redeemed gift is ready, and the seasonal offers, sent to the members who had agreed
to marketing by then. Older messages have mostly been read; the newest mostly not, so the
unread badge has something to show.

They are written in one bulk insert, like the customers step's rows (they move no points). The
expiring-points reminders are not among them: the built-in points-expiring journey
(``apps/campaigns``) sends those, and the replayed history only marks the lots reminded.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from apps.core.content import content_languages
from apps.customers import demo
from apps.customers.enums import ConsentPurpose
from apps.customers.inbox import SUBJECT_MAX
from apps.customers.models import ConsentRecord, Customer, Order, PortalMessage

from .models import EarnRule, PointsTransaction, Redemption, TierHistory


def _suffix(lang: str) -> str:
    return lang.replace("-", "_")


def _greeting_name(customer: Customer, lang: str) -> str:
    """Chinese names in full (王芳); western names by first name in English."""
    if lang == "en" and customer.first_name.isascii():
        return customer.first_name
    return customer.display_name


class _Inbox:
    def __init__(self, ctx: demo.DemoContext, rng: random.Random, templates: dict) -> None:
        self.ctx = ctx
        self.rng = rng
        self.templates = templates
        self.customers = {
            c.pk: c for c in Customer.objects.filter(pk__in=ctx.customer_ids).order_by("pk")
        }
        self.messages: list[PortalMessage] = []
        self.last_order = dict(
            Order.objects.filter(customer_id__in=list(self.customers))
            .order_by("customer_id", "placed_at")
            .values_list("customer_id", "placed_at")
        )

    def send(
        self,
        template: dict,
        customer: Customer,
        at: dt.datetime,
        key: str,
        **values,
    ) -> None:
        """One message from ``template`` in every language; ``values`` hold a plain value or a
        ``{lang: value}`` for text that has its own translation (a tier's name)."""
        if at >= self.ctx.anchor or customer.anonymized_at is not None:
            return
        content = {}
        for lang in content_languages():
            suffix = _suffix(lang)
            filled = {k: (v.get(lang, "") if isinstance(v, dict) else v) for k, v in values.items()}
            filled["name"] = _greeting_name(customer, lang)
            for part in ("subject", "body"):
                content[f"{part}_{suffix}"] = template[f"{part}_{suffix}"].format(**filled)
            content[f"subject_{suffix}"] = content[f"subject_{suffix}"][:SUBJECT_MAX]
        self.messages.append(
            PortalMessage(customer=customer, kind=template["kind"], key=key, sent_at=at, **content)
        )

    # --- message kinds ----------------------------------------------------------------------

    def welcomes(self) -> None:
        points = {
            row["account__customer_id"]: row
            for row in PointsTransaction.objects.filter(
                idempotency_key__startswith="bonus:signup:",
                account__customer_id__in=list(self.customers),
            ).values("account__customer_id", "points", "created_at")
        }
        for customer in self.customers.values():
            bonus = points.get(customer.pk)
            at = bonus["created_at"] if bonus else customer.joined_at
            self.send(
                self.templates["welcome"],
                customer,
                at + dt.timedelta(minutes=3),
                f"demo:welcome:{customer.pk}",
                points=bonus["points"] if bonus else 0,
            )

    def tier_upgrades(self) -> None:
        template = self.templates["tier_up"]
        rows = (
            TierHistory.objects.filter(
                account__customer_id__in=list(self.customers), to_tier__rank__gt=0
            )
            .select_related("from_tier", "to_tier", "account")
            .order_by("at", "pk")
        )
        for row in rows:
            if row.from_tier is not None and row.from_tier.rank >= row.to_tier.rank:
                continue
            tier = row.to_tier
            names, benefits, gifts = {}, {}, {}
            for lang in content_languages():
                suffix = _suffix(lang)
                names[lang] = getattr(tier, f"name_{suffix}") or tier.name
                lines = (getattr(tier, f"benefits_{suffix}") or tier.benefits or "").splitlines()
                benefits[lang] = "\n".join(f"• {line}" for line in lines if line.strip())
                gifts[lang] = (
                    template[f"gift_{suffix}"].format(points=tier.entry_gift_points)
                    if tier.entry_gift_points
                    else ""
                )
            self.send(
                template,
                self.customers[row.account.customer_id],
                row.at + dt.timedelta(hours=9),
                f"demo:tier-up:{row.pk}",
                tier=names,
                benefits=benefits,
                gift=gifts,
            )

    def birthdays(self) -> None:
        rows = (
            PointsTransaction.objects.filter(
                idempotency_key__startswith="bonus:birthday:",
                account__customer_id__in=list(self.customers),
            )
            .order_by("created_at", "pk")
            .values("pk", "account__customer_id", "points", "created_at")
        )
        for row in rows:
            self.send(
                self.templates["birthday"],
                self.customers[row["account__customer_id"]],
                row["created_at"] + dt.timedelta(hours=8),
                f"demo:birthday:{row['pk']}",
                points=row["points"],
            )

    def rewards_ready(self, fulfilled: list[Redemption]) -> None:
        for redemption in (
            Redemption.objects.filter(pk__in=[r.pk for r in fulfilled])
            .select_related("reward", "account")
            .order_by("fulfilled_at", "pk")
        ):
            reward = redemption.reward
            names = {
                lang: getattr(reward, f"name_{_suffix(lang)}") or reward.name
                for lang in content_languages()
            }
            self.send(
                self.templates["reward_ready"],
                self.customers[redemption.account.customer_id],
                redemption.fulfilled_at + dt.timedelta(minutes=5),
                f"demo:reward-ready:{redemption.pk}",
                reward=names,
            )

    def offers(self) -> None:
        """Seasonal offers to members enrolled by then who had agreed to marketing (their
        latest choice on some channel by then was yes)."""
        consents = defaultdict(list)
        for customer_id, channel, granted, at in (
            ConsentRecord.objects.filter(
                customer_id__in=list(self.customers), purpose=ConsentPurpose.MARKETING
            )
            .order_by("at", "pk")
            .values_list("customer_id", "channel", "granted", "at")
        ):
            consents[customer_id].append((at, channel, granted))
        for offer in self.templates["offers"]:
            for when in self._offer_dates(offer):
                for customer in self.customers.values():
                    if customer.joined_at >= when:
                        continue
                    latest: dict[str, bool] = {}
                    for at, channel, granted in consents.get(customer.pk, []):
                        if at <= when:
                            latest[channel] = granted
                    if any(latest.values()):
                        self.send(
                            offer,
                            customer,
                            when + dt.timedelta(minutes=self.rng.randint(0, 90)),
                            f"demo:offer:{offer['slug']}:{when.year}:{customer.pk}",
                        )

    def _offer_dates(self, offer: dict) -> list[dt.datetime]:
        anchor = self.ctx.anchor
        first = min(c.joined_at for c in self.customers.values())
        if "earn_rule" in offer:
            rule = EarnRule.objects.filter(name_en=offer["earn_rule"]).first()
            if rule is None or rule.starts_at is None:
                return []
            dates = [rule.starts_at - dt.timedelta(days=offer["days_before"])]
        else:
            month, day = (int(x) for x in offer["month_day"].split("-"))
            dates = [
                anchor.replace(year=year, month=month, day=day, hour=10)
                for year in range(first.year, anchor.year + 1)
            ]
        return [d.replace(hour=10, minute=0) for d in dates if first < d < anchor]

    # --- reading ----------------------------------------------------------------------------

    def read_at(self, message: PortalMessage) -> dt.datetime | None:
        """When the member read it, or None: members who still shop read most of their
        messages within a few days, those who have drifted away fewer; the newest are mostly
        unread."""
        anchor = self.ctx.anchor
        recent = message.sent_at > anchor - dt.timedelta(days=10)
        latest = self.last_order.get(message.customer_id)
        active = latest is not None and latest > message.sent_at - dt.timedelta(days=120)
        chance = (0.3 if recent else 0.85) if active else (0.15 if recent else 0.45)
        if self.rng.random() >= chance:
            return None
        at = message.sent_at + dt.timedelta(minutes=self.rng.randint(5, 3 * 24 * 60))
        return at if at < anchor else None

    def write(self) -> dict[str, int]:
        """Write the messages (one bulk insert, like the customers step: these are not points),
        some of them read."""
        self.messages.sort(key=lambda m: (m.sent_at, m.key))
        for message in self.messages:
            message.read_at = self.read_at(message)
        PortalMessage.objects.bulk_create(self.messages, batch_size=demo.BATCH)
        return {
            "inbox messages": len(self.messages),
            "inbox messages read": sum(1 for m in self.messages if m.read_at is not None),
        }


def inbox_seed(
    ctx: demo.DemoContext, rng: random.Random, *, templates: dict, fulfilled: list[Redemption]
) -> dict[str, int]:
    """Fill the demo members' inboxes (see the module docstring). Returns counts."""
    inbox = _Inbox(ctx, rng, templates)
    inbox.welcomes()
    inbox.tier_upgrades()
    inbox.birthdays()
    inbox.rewards_ready(fulfilled)
    inbox.offers()
    return inbox.write()
