"""Exactly once (DESIGN.md §4.2) against real failures: real Celery workers on Redis and the
test database, killed with SIGKILL in the middle of a job, messages delivered twice, a
transaction rolled back. Each test first checks that the failure really happened where it was
meant to (the job was part done when killed), so a pass is not an accident of timing."""

import datetime as dt
import re
import signal
import subprocess
import sys
from collections import Counter

import pytest
from django.db.models import Count
from django.utils import timezone

from apps.campaigns.enums import MessageStatus
from apps.campaigns.models import Message
from apps.campaigns.services.delivery import CLAIM_TIMEOUT, claims_recover
from apps.campaigns.services.lifecycle import campaign_start
from apps.loyalty.enums import LotStatus, TxKind
from apps.loyalty.models import LoyaltyAccount, PointsLot, PointsTransaction
from apps.loyalty.services import points_adjust
from apps.loyalty.verification import ledger_faults
from tests.campaigns.factories import broadcast, no_quiet_hours, reachable
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgrammeFactory
from tests.ops.conftest import ROOT, broker_client, queued, stop_group, wait_for

pytestmark = [
    pytest.mark.postgres,
    # The workers are other processes: they see committed rows only.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LOTS = 120
MESSAGE_ID = re.compile(r"Message-ID: <campaign-(\d+)@")


def _expired() -> int:
    return PointsLot.objects.filter(status=LotStatus.EXPIRED).count()


def test_expiry_killed_mid_run_and_delivered_twice_expires_every_lot_once(processes, manager):
    ProgrammeFactory()
    for _ in range(LOTS):
        points_adjust(customer=CustomerFactory(), points=10, reason="ops", actor=manager)
    as_of = (timezone.now() + dt.timedelta(days=400)).isoformat()  # every lot is due
    client = broker_client()

    # One account per transaction: the run is a long row of small commits, easy to cut.
    first = processes.worker(name="first", LOYALTY_JOB_CHUNK="1")
    sent = client.send_task("loyalty.points_expire", kwargs={"as_of": as_of})
    wait_for(lambda: _expired() > 0, timeout=60, step=0.01, what="the first chunks")
    stop_group(first, signal.SIGKILL)  # the worker and its pool child, mid-run
    partial = _expired()
    assert 0 < partial < LOTS, f"not killed mid-run: {partial} of {LOTS} lots expired"

    # The same message again (a duplicate delivery) while the broker hands the killed one back
    # (visibility timeout): two workers run the job at once from where the first stopped.
    client.send_task("loyalty.points_expire", kwargs={"as_of": as_of}, task_id=sent.id)
    second = processes.worker(name="second", wait=False, LOYALTY_JOB_CHUNK="5")
    third = processes.worker(name="third", LOYALTY_JOB_CHUNK="5")
    wait_for(lambda: _expired() == LOTS, timeout=90, what="every lot to expire")
    # Both deliveries are taken and finished (the killed one came back: nothing else sends).
    wait_for(
        lambda: sum(processes.log(w).count(f"[{sent.id}] succeeded") for w in (second, third)) == 2,
        timeout=60,
        what="both deliveries to finish",
    )

    per_lot = PointsTransaction.objects.filter(kind=TxKind.EXPIRE).values("lot_id")
    counts = per_lot.annotate(n=Count("id")).values_list("n", flat=True)
    assert len(counts) == LOTS and set(counts) == {1}
    assert set(LoyaltyAccount.objects.values_list("balance", flat=True)) == {0}
    assert list(ledger_faults()) == []


ROLLBACK_SCRIPT = """
import django
django.setup()
from django.db import transaction
from apps.campaigns.tasks import send_soon
try:
    with transaction.atomic():
        send_soon(424242)
        raise RuntimeError("rolled back")
except RuntimeError:
    pass
print("rolled back", flush=True)
input()
with transaction.atomic():
    send_soon(424242)
print("committed", flush=True)
"""


def test_a_rolled_back_transaction_queues_no_task_and_a_committed_one_queues_one(processes):
    """Tasks are queued with ``transaction.on_commit`` (here a campaign send): rolled back,
    nothing reaches the broker, so no worker can ever run it; committed, one message does."""
    child = subprocess.Popen(
        [sys.executable, "-c", ROLLBACK_SCRIPT],
        cwd=ROOT,
        env=processes.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "rolled back"
        assert queued("bulk") == 0 and queued("default") == 0
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "committed"
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert queued("bulk") == 1 and queued("default") == 0  # campaigns.send goes to bulk


MESSAGES = 100


def test_campaign_send_killed_mid_run_sends_no_message_twice(processes, marketer, tmp_path):
    no_quiet_hours()
    reachable(MESSAGES, "email")
    campaign = broadcast(actor=marketer, channels=["email"])
    campaign_start(campaign=campaign, actor=marketer)
    mail_dir = tmp_path / "mail"
    # 25 e-mails a second (CAMPAIGN_SEND_RATES), claimed 25 at a time: a four-second send.
    paced = {"OPS_EMAIL_DIR": str(mail_dir), "OPS_SEND_RATE": "25"}
    messages = Message.objects.filter(campaign=campaign)
    in_flight = messages.filter(status=MessageStatus.QUEUED, claimed_at__isnull=False)

    # Kill the worker between claiming a batch and recording it (while it renders the batch and
    # hands it to the back-end): the crash that could send a message twice. Seeing the claim and
    # killing are two steps, so a kill can land just after the record; then the next worker
    # (the message comes back) is killed at its next batch, up to three times.
    sent = None
    for attempt in range(3):
        worker = processes.worker(name=f"killed-{attempt}", **paced)
        if sent is None:
            sent = broker_client().send_task("campaigns.send", args=(campaign.pk,))
        wait_for(in_flight.exists, timeout=60, step=0.002, what="a batch in flight")
        stop_group(worker, signal.SIGKILL)
        held = set(in_flight.values_list("pk", flat=True))
        if held:
            break
    assert held, "never killed with a batch in flight"
    assert messages.count() == MESSAGES

    # The broker hands the killed delivery back to a new worker, which sends the rest.
    second = processes.worker(name="second", **paced)
    wait_for(
        lambda: f"[{sent.id}] succeeded" in processes.log(second),
        timeout=90,
        what="the redelivered send to finish",
    )
    # What the killed worker had claimed but not recorded is never sent again: after the claim
    # timeout the tick marks it failed ("interrupted") — a gap is better than a duplicate.
    claims_recover(now=timezone.now() + CLAIM_TIMEOUT + dt.timedelta(minutes=1))

    mailed = Counter(
        int(pk) for f in mail_dir.iterdir() for pk in MESSAGE_ID.findall(f.read_text())
    )
    assert mailed and max(mailed.values()) == 1, "a message was e-mailed twice"
    statuses = dict(messages.values_list("pk", "status"))
    sent_ids = {pk for pk, status in statuses.items() if status == MessageStatus.SENT}
    assert sent_ids <= set(mailed) <= set(statuses)
    lost = {pk for pk, status in statuses.items() if status != MessageStatus.SENT}
    assert lost == held  # exactly the batch the killed worker held, marked failed, not resent
    assert all(statuses[pk] == MessageStatus.FAILED for pk in lost)
    assert len(sent_ids) == MESSAGES - len(held)  # the redelivery did send the rest
