"""Expiring-points reminders: which lots enter the reminder window, each lot once.

Exactly once per lot: a lot is reminded when it enters the programme's ``reminder_days`` window;
its ``reminded_at`` is set in the same transaction that records the reminder, with one set-based
UPDATE per chunk, and the lots are read ``FOR UPDATE SKIP LOCKED`` so two concurrent runs split
the work instead of both reminding. A member whose lots enter the window on the same run is
reminded once, with the points per expiry day and the month they were earned.

The engine sends nothing itself. It publishes ``points.expiring`` per member (delivered after
commit through the outbox, so a rolled-back run tells no one), and the message is the built-in
points-expiring journey's (``apps/campaigns``, ``Campaign.builtin == "points-expiring"``): one
place decides consent (purpose "service": only an explicit "no" stops it), the frequency cap,
quiet hours and the channel, for this reminder as for every campaign, and marketing edits its
text there. The journey reads the expiring points from the member's lots when it sends, so a
message delivered late tells the member what is still true.
"""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from apps.core import events

from ..enums import ExpiryPolicy
from ..models import PointsLot, Programme
from ..selectors import lots_expiring


@transaction.atomic
def _remind_chunk(
    *, account_ids: list[int], as_of: dt.datetime, within_days: int, notify: bool
) -> int:
    lots = list(
        lots_expiring(within_days=within_days, as_of=as_of)
        .filter(account_id__in=account_ids)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
        .values("id", "remaining", "expires_at", "earned_at", "account__customer_id")
    )
    if not lots:
        return 0
    PointsLot.objects.filter(pk__in=[lot["id"] for lot in lots], reminded_at__isnull=True).update(
        reminded_at=as_of
    )
    # Per member, points per expiry day and month they were earned in (named as the history
    # will once they expire: "points earned in May 2025").
    per_customer: dict[int, dict[tuple[dt.date, str], int]] = defaultdict(lambda: defaultdict(int))
    for lot in lots:
        day = timezone.localdate(lot["expires_at"])
        earned = f"{timezone.localdate(lot['earned_at']):%Y-%m}"
        per_customer[lot["account__customer_id"]][(day, earned)] += lot["remaining"]
    if notify:
        for customer_id in sorted(per_customer):
            items = [
                {"points": points, "expires_on": day.isoformat(), "earned_in": earned}
                for (day, earned), points in sorted(per_customer[customer_id].items())
            ]
            events.publish("points.expiring", customer_id=customer_id, items=items)
    return len(per_customer)


def points_expiring_remind(
    *, as_of: dt.datetime | None = None, chunk: int = 500, notify: bool = True
) -> int:
    """Mark the lots entering the reminder window reminded, each lot once, and publish
    ``points.expiring`` per member for the journey to send. Returns the number of members
    reminded. ``notify=False`` only marks the lots: a run back-filling history (the demo) has
    no one to tell about the past."""
    as_of = as_of or timezone.now()
    programme = Programme.get()
    if programme.expiry_policy == ExpiryPolicy.NEVER or not programme.reminder_days:
        return 0
    account_ids = list(
        lots_expiring(within_days=programme.reminder_days, as_of=as_of)
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()
    )
    reminded = 0
    for start in range(0, len(account_ids), chunk):
        reminded += _remind_chunk(
            account_ids=account_ids[start : start + chunk],
            as_of=as_of,
            within_days=programme.reminder_days,
            notify=notify,
        )
    return reminded
