"""Post-purchase survey invitations at volume (issue 10): ``invitations_after_purchase`` over
100,000 recent orders of consenting members (at scale 1), against a bare ``INSERT … SELECT`` of
the same invitation rows into the same table.

Seeding is set-based: one order per member (placed two days ago at a store of its own, so the
bench survey sees only these orders) and a ``surveys`` e-mail consent a month old. The service
run does everything a real run does — tokens, sample, cooldown and consent per member, the
portal messages, the ``survey.invited`` outbox rows — except delivering the outbox after commit
(the e-mails), which the ``events`` group measures.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

from django.db import connection
from django.utils import timezone

from apps.core import events
from apps.core.models import OutboxEvent
from apps.customers.models import Store
from apps.surveys.enums import InvitationStatus
from apps.surveys.models import Invitation, Survey
from apps.surveys.services.invitations import invitations_after_purchase
from tests.bench.measure import once, result_row, skipped

ORDERS_AT_SCALE_1 = 100_000
STORE = "bench-survey"


def _seed(n: int, at: dt.datetime) -> tuple[Store, int]:
    store, _ = Store.objects.get_or_create(
        code=STORE,
        defaults={"name_en": "Survey bench", "name_zh_hans": "调查基准", "kind": "offline"},
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_order WHERE store_id = %s", [store.pk])
        cursor.execute(
            """
            CREATE TEMP TABLE bench_survey_members AS
            SELECT id FROM customers_customer
            WHERE anonymized_at IS NULL AND merged_into_id IS NULL AND email <> ''
            ORDER BY id LIMIT %s
            """,
            [n],
        )
        cursor.execute(
            """
            INSERT INTO customers_consentrecord (customer_id, channel, purpose, granted, at,
                source, evidence)
            SELECT id, 'email', 'surveys', true, %(at)s::timestamptz - interval '30 days',
                   'bench', ''
            FROM bench_survey_members
            """,
            {"at": at},
        )
        cursor.execute(
            """
            INSERT INTO customers_order (created_at, updated_at, store_id, external_id,
                customer_id, placed_at, channel, total, discount, coupon_code, refunded_amount,
                status)
            SELECT p, p, %(store)s, 'SV' || lpad(m.id::text, 9, '0'), m.id, p, 'store',
                   88.00, 0, '', 0, 'paid'
            FROM bench_survey_members m,
                 LATERAL (SELECT %(at)s::timestamptz - interval '2 days' AS p) AS placed
            """,
            {"store": store.pk, "at": at},
        )
        seeded = cursor.rowcount
        cursor.execute("DROP TABLE bench_survey_members")
    return store, seeded


def _survey(slug: str, store: Store) -> Survey:
    Invitation.objects.filter(survey__slug=slug).delete()
    Survey.objects.filter(slug=slug).delete()
    survey = Survey.objects.create(
        slug=slug,
        title_en="Bench NPS",
        title_zh_hans="基准 NPS",
        kind="nps",
        status="live",
        trigger="after_purchase",
        delay_days=1,
        invite_channels=["email", "portal"],
    )
    survey.trigger_stores.set([store])
    return survey


def _bare_insert(survey: Survey, store: Store, at: dt.datetime) -> int:
    """The same invitation rows (one per order, token, context, e-mail queued) in one
    ``INSERT … SELECT`` into the real table, indexes and constraints included."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO surveys_invitation (survey_id, customer_id, token, channel, status,
                skip_reason, context, order_id, store_id, email_status, created_at, sent_at,
                expires_at)
            SELECT %(survey)s, o.customer_id,
                   translate(encode(decode(md5(random()::text || o.id::text)
                       || md5(o.id::text || random()::text), 'hex'), 'base64'), '+/=', '-_'),
                   'email', 'sent', '', 'order:' || o.id, o.id, o.store_id, 'queued',
                   %(at)s, %(at)s, %(at)s::timestamptz + interval '14 days'
            FROM customers_order o WHERE o.store_id = %(store)s
            """,
            {"survey": survey.pk, "store": store.pk, "at": at},
        )
        return cursor.rowcount


def measure_survey_invitations(*, scale: float) -> list[dict]:
    n = max(1000, round(ORDERS_AT_SCALE_1 * scale))
    at = timezone.now()
    Invitation.objects.all().delete()  # a fresh programme: nobody within the cooldown
    store, seeded = _seed(n, at)
    if seeded < n:
        return [skipped("survey invitations", f"only {seeded:,} members to seed orders for")]

    reference_survey = _survey("bench-survey-reference", store)
    reference, ref_rows = once(lambda: _bare_insert(reference_survey, store, at))
    Invitation.objects.filter(survey=reference_survey).delete()
    reference_survey.delete()

    survey = _survey("bench-survey", store)
    outbox_before = OutboxEvent.objects.filter(name="survey.invited").count()
    # The outbox rows are written; their delivery (the e-mails) is not part of this run.
    with mock.patch.object(events.outbox_deliver, "delay"):
        value, out = once(lambda: invitations_after_purchase(as_of=at))
    result = out[survey.slug]
    sent = Invitation.objects.filter(survey=survey, status=InvitationStatus.SENT).count()
    outbox = OutboxEvent.objects.filter(name="survey.invited").count() - outbox_before
    return [
        result_row(
            f"invitations_after_purchase, {seeded:,} orders",
            value=value,
            unit="s",
            reference=reference,
            reference_label="bare INSERT … SELECT of the same invitation rows",
            invitations=sent,
            skipped=dict(result.skipped),
            outbox_events=outbox,
            rows_per_second=round(sent / value) if value else None,
            reference_rows_per_second=round(ref_rows / reference) if reference else None,
            detail=(
                f"{sent / value:,.0f} invitations/s (ref {ref_rows / reference:,.0f}/s); "
                f"{outbox:,} outbox events"
            ),
        )
    ]
