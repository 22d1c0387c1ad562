"""Campaign sending at volume (issue 13), next to its physical reference in the same run:

- a broadcast to every bench customer (100,000 at scale 1) with two variants, a 10% holdout and
  a personal coupon each, on e-mail, SMS and the portal inbox: the snapshot, suppression checks
  (consent at send time, addresses, the frequency cap, the budget), the draw, coupons, message
  rows, rendering in the sandbox and hand-over to the locmem e-mail and SMS back-ends and the
  inbox — messages per second end to end, against a bare ``INSERT … SELECT`` of the same number
  of message rows (what any implementation must at least write);
- the frequency-cap check: queries for a chunk of 100 and of 1,000 customers (constant, not per
  message).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from decimal import Decimal

from django.core import mail
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext, override_settings

from apps.analytics.services.segments import segment_save
from apps.campaigns.models import CampaignSettings, Message
from apps.campaigns.services.lifecycle import campaign_save, campaign_start
from apps.campaigns.services.queueing import messages_queue
from apps.campaigns.services.sending import campaign_send
from apps.core import sms
from tests.bench.measure import result_row

EVERYONE = {"field": "customer.joined_days", "op": "gte", "value": 0}
VARIANTS = [
    {
        "label": label,
        "weight": 1,
        "subject_en": "{{ first_name|default('Hello') }}, a gift for you",
        "subject_zh_hans": "{{ first_name|default('您好') }}，送您一份礼物",
        "body_en": "Code {{ coupon_code }} ({{ coupon_value }} off). Points: {{ points }}. "
        "{{ links.coupons }}",
        "body_zh_hans": "优惠码 {{ coupon_code }}（立减{{ coupon_value }}），积分 {{ points }}。"
        "{{ links.coupons }}",
        "sms_body_en": "Code {{ coupon_code }}: {{ coupon_value }} off",
        "sms_body_zh_hans": "优惠码 {{ coupon_code }}，立减{{ coupon_value }}",
    }
    for label in ("A", "B")
]

_CONSENTS = """
INSERT INTO customers_consentrecord (customer_id, channel, purpose, granted, at, source, evidence)
SELECT id, ch, 'marketing', true, now(), 'bench', '' FROM customers_customer,
       unnest(ARRAY['email', 'sms', 'portal']) AS ch
"""

_BARE = """
INSERT INTO bench_message_copy (campaign_id, step, customer_id, channel, status, reason, error,
    marketing, language, created_at, not_before, provider_id, cost)
SELECT %s, 'send', customer_id, 'email', 'sent', '', '', true, 'zh-hans', now(), now(), '', 0
FROM analytics_snapshotmember WHERE snapshot_id = %s
"""


def _bare_insert(snapshot_id: int, campaign_id: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_message_copy")
        cursor.execute("CREATE TABLE bench_message_copy (LIKE campaigns_message INCLUDING ALL)")
        started = time.perf_counter()
        cursor.execute(_BARE, [campaign_id, snapshot_id])
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_message_copy")
    return elapsed


def _broadcast(name: str, segment, *, offer: bool = True):
    settings = {
        "kind": "broadcast",
        "segment": segment,
        "channels": ["email", "sms", "portal"],
        "holdout_percent": 10,
        "cost_per_message": Decimal("0.01"),
    }
    if offer:
        settings |= {"offer_kind": "coupon", "coupon_kind": "fixed", "coupon_value": Decimal(10)}
    return campaign_save(actor=None, names={"name_en": name}, settings=settings, variants=VARIANTS)


def _cap_queries(segment) -> tuple[int, int]:
    """Queries to place 100 and 1,000 customers (a fresh campaign each)."""
    counts = []
    ids = list(Message.objects.order_by("customer_id").values_list("customer_id", flat=True)[:1100])
    for size, chunk in ((100, ids[:100]), (1000, ids[100:1100])):
        campaign = campaign_start(
            campaign=_broadcast(f"cap {size}", segment, offer=False), actor=None
        )
        with CaptureQueriesContext(connection) as ctx:
            messages_queue(campaign=campaign, customer_ids=chunk, step="send")
        counts.append(len(ctx.captured_queries))
    return counts[0], counts[1]


WORKERS = 2  # like a Celery worker with one process per core on this 2-core machine


def _worker(campaign_id: int) -> None:
    """One sender process: send slices until the campaign has nothing left (as the Celery task
    re-queues itself), emptying the locmem back-ends' memory between slices."""
    connections.close_all()
    while True:
        done = campaign_send(campaign_id=campaign_id, seconds=10)
        mail.outbox.clear()
        sms.outbox.clear()
        if not done.more:
            break
    connections.close_all()


def _send_with_workers(campaign_id: int, workers: int) -> None:
    connections.close_all()  # a forked child must not share the parent's connection
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker, args=(campaign_id,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a sender process failed (exit code {process.exitcode})")


def measure_campaigns(*, scale: float) -> list[dict]:
    with connection.cursor() as cursor:
        # A reused bench database: start from no campaign messages (the frequency cap would
        # otherwise suppress most of the audience) and one set of consents.
        cursor.execute("DELETE FROM campaigns_message")
        cursor.execute(
            "DELETE FROM customers_consentrecord WHERE source = 'bench' AND purpose = "
            "'marketing' AND channel IN ('sms', 'portal')"
        )
        cursor.execute(_CONSENTS)
        cursor.execute("ANALYZE customers_consentrecord")
    # Quiet hours off: at night (business time) e-mail and SMS would be deferred, not sent, and
    # the run would measure placing them only.
    programme = CampaignSettings.get()
    programme.quiet_start = programme.quiet_end = dt.time(9, 0)
    programme.save()
    segment = segment_save(actor=None, rules=EVERYONE, names={"name_en": "bench: everyone"})
    rates = {"email": 1e9, "sms": 1e9, "portal": 1e9}
    with override_settings(
        CAMPAIGN_SEND_RATES=rates,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SMS_BACKEND="apps.core.sms.LocmemSmsBackend",
    ):
        started = time.perf_counter()
        campaign = campaign_start(campaign=_broadcast("bench broadcast", segment), actor=None)
        _send_with_workers(campaign.pk, WORKERS)
        elapsed = time.perf_counter() - started
        placed = Message.objects.filter(campaign=campaign).count()
        total = Message.objects.filter(campaign=campaign, status__in=("sent", "delivered")).count()
        twice = (
            Message.objects.filter(campaign=campaign)
            .values("customer_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .count()
        )
        reference = _bare_insert(campaign.snapshot_id, campaign.pk)
        small, large = _cap_queries(segment)
    rows = [
        result_row(
            f"broadcast to {placed:,} customers ({total:,} sent: e-mail, SMS, inbox; "
            f"coupons; 10% holdout; {WORKERS} sender processes; {twice} customers twice)",
            value=placed / elapsed,
            unit="msg/s",
            reference=placed / reference,
            reference_label="bare INSERT … SELECT of the same message rows",
            higher_is_better=True,
            seconds=round(elapsed, 1),
        ),
        result_row(
            "frequency cap and suppression: queries to place 100 / 1,000 customers",
            value=large,
            unit="queries",
            reference=small,
            reference_label="the same for 100 customers",
        ),
    ]
    return rows
