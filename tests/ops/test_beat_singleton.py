"""Celery beat is a singleton (apps.core.scheduler): with two beat processes running, each
periodic job is sent once per period, the second beat stands by, and it takes over within
seconds when the first is killed."""

import signal
import time

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.ops.conftest import queued, stop_group, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PERIOD = 2  # seconds
PROBE_QUEUE = "ops-beat-probe"  # no worker consumes it: its length counts the sends


def _beat(processes, name: str):
    return processes.start(
        "beat", "--loglevel=INFO", f"--schedule={processes.tmp_path / name}", log=f"{name}.log"
    )


def test_two_beats_send_each_job_once_per_period_and_the_standby_takes_over(processes):
    PeriodicTask.objects.update(enabled=False)  # only the probe, so the count is exact
    every = IntervalSchedule.objects.create(every=PERIOD, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="ops: beat probe", task="ops.beat_probe", interval=every, queue=PROBE_QUEUE
    )

    first = _beat(processes, "beat-first")
    wait_for(lambda: queued(PROBE_QUEUE) > 0, timeout=90, what="the first beat to send")
    second = _beat(processes, "beat-second")
    wait_for(
        lambda: "beat: Starting..." in processes.log(second),
        timeout=90,
        what="the second beat to start",
    )
    time.sleep(3)  # its first tick

    # Both running: one send per period (two beats each sending would double it).
    window = 5 * PERIOD
    before = queued(PROBE_QUEUE)
    time.sleep(window)
    sent = queued(PROBE_QUEUE) - before
    assert window // PERIOD - 1 <= sent <= window // PERIOD + 1, sent
    assert "standing by" in processes.log(second)

    # The active beat dies: the standby takes the lock and goes on sending.
    stop_group(first, signal.SIGKILL)
    after_kill = queued(PROBE_QUEUE)
    wait_for(
        lambda: queued(PROBE_QUEUE) >= after_kill + 2,
        timeout=30,
        what="the standby to take over",
    )
    assert "holds the beat lock" in processes.log(second)
    assert second.poll() is None
