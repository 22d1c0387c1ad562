"""Celery's side of observability, wired from ``CoreConfig.ready()``:

- the request id travels with a task: ``before_task_publish`` writes the id of the work that
  queues it into the message headers, ``task_prerun`` binds it in the worker (a task queued by
  beat or by a command gets its own task id), ``task_postrun`` unbinds it;
- every task's duration and final state, and every failure, go to Prometheus
  (``apps.core.metrics``);
- a task started by django-celery-beat carries the ``periodic_task_name`` header: its run is
  recorded in ``JobRun`` (started, then succeeded or failed), which monitoring reads.

A failure to record never fails the task: it is logged and the task's own result stands.
"""

import logging
import time
from contextvars import Token
from typing import Any

from celery import signals
from django.db import DatabaseError
from django.utils import timezone

from . import request_id
from .metrics import TASK_DURATION, TASK_FAILURES, worker_exporter_start, worker_process_dead
from .models import JobRun

log = logging.getLogger(__name__)

HEADER = "request_id"
PERIODIC_HEADER = "periodic_task_name"

# task id -> (monotonic start, the context token to reset, beat entry name or "")
_running: dict[str, tuple[float, Token | None, str]] = {}


def _header(task: Any, name: str) -> str:
    """A custom message header: Celery merges them into the request (a worker) or keeps them
    in ``request.headers`` (``apply(headers=...)``)."""
    request = task.request
    value = (getattr(request, "headers", None) or {}).get(name) or getattr(request, name, None)
    return value if isinstance(value, str) else ""


def on_before_task_publish(headers: dict | None = None, **kwargs: Any) -> None:
    current = request_id.request_id_get()
    if headers is not None and current != request_id.NONE:
        headers.setdefault(HEADER, current)


def on_task_prerun(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    carried = request_id.request_id_clean(_header(task, HEADER))
    token = None
    if carried or request_id.request_id_get() == request_id.NONE:
        # An eager task (tests, CELERY_TASK_ALWAYS_EAGER) runs inside the caller: its id stays.
        token = request_id.request_id_set(carried or task_id)
    job = _header(task, PERIODIC_HEADER)
    _running[task_id] = (time.monotonic(), token, job)
    if job:
        _record(job, task.name, last_started_at=timezone.now())


def on_task_postrun(task_id: str = "", task: Any = None, state: str = "", **kwargs: Any) -> None:
    started, token, job = _running.pop(task_id, (None, None, ""))
    duration = time.monotonic() - started if started is not None else None
    name = getattr(task, "name", "unknown")
    if duration is not None:
        TASK_DURATION.labels(task=name, state=state or "UNKNOWN").observe(duration)
    if job and state in ("SUCCESS", "FAILURE"):
        now = timezone.now()
        fields: dict[str, Any] = {
            "last_finished_at": now,
            "last_state": state,
            "last_duration": duration,
        }
        if state == "SUCCESS":
            fields |= {"last_succeeded_at": now, "last_error": ""}
        else:
            error = kwargs.get("retval")
            fields |= {"last_failed_at": now, "last_error": type(error).__name__[:200]}
        _record(job, name, **fields)
    if token is not None:
        request_id.request_id_reset(token)


def on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def on_worker_init(**kwargs: Any) -> None:
    worker_exporter_start()


def on_worker_process_shutdown(pid: int | None = None, **kwargs: Any) -> None:
    worker_process_dead(pid)


def _record(job: str, task: str, **fields: Any) -> None:
    """Upsert the job's row in one statement (two overlapping runs cannot both insert)."""
    try:
        JobRun.objects.bulk_create(
            [JobRun(name=job, task=task, **fields)],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["task", *fields],
        )
    except DatabaseError as exc:
        log.warning("could not record the run of %s: %s", job, type(exc).__name__)


def celery_signals_connect() -> None:
    signals.before_task_publish.connect(on_before_task_publish, dispatch_uid="core.request_id")
    signals.task_prerun.connect(on_task_prerun, dispatch_uid="core.task_prerun")
    signals.task_postrun.connect(on_task_postrun, dispatch_uid="core.task_postrun")
    signals.task_failure.connect(on_task_failure, dispatch_uid="core.task_failure")
    signals.worker_init.connect(on_worker_init, dispatch_uid="core.worker_metrics")
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, dispatch_uid="core.pool")
