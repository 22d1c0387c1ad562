"""Idempotency keys: "the same request twice does the work once" for any write endpoint.

A client that may retry sends an ``Idempotency-Key``. The first request with a key claims it:
one row in state ``running`` is INSERTed and committed on its own, before the work starts, so a
concurrent twin sees it (the unique (scope, key) constraint decides races on PostgreSQL). When
the work is done the row stores the response status and body (state ``done``); later requests
with the same key and the same fingerprint get that stored response back. A different request
under a used key is refused (422), a twin arriving while the first still runs is refused (409).

If the work fails unexpectedly (5xx) the row is released (deleted) so the client can retry with
the same key. A ``running`` row older than ``IDEMPOTENCY_RUNNING_TIMEOUT_SECONDS`` belongs to a
request that died without releasing it; the next request with the same fingerprint takes it
over. Rows are kept ``IDEMPOTENCY_KEY_TTL_HOURS`` and then purged by a periodic task.

This module knows nothing about HTTP frameworks: the API layer computes the fingerprint from
method, path and body, and maps the outcomes to responses.
"""

import datetime as dt
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .exceptions import IdempotencyInProgress, IdempotencyKeyReused
from .models import IdempotencyKey

KEY_MAX_LENGTH = 255
# Visible ASCII, no spaces: what a till can send in a header and log without escaping.
KEY_REGEX = rf"^[!-~]{{1,{KEY_MAX_LENGTH}}}$"
KEY_PATTERN = re.compile(KEY_REGEX)


class ClaimState(enum.Enum):
    PROCEED = "proceed"  # this request owns the key: do the work, then finish or release
    REPLAY = "replay"  # the first request finished: return its stored response


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    row: IdempotencyKey


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """SHA-256 of method, path and the body as canonical JSON (sorted keys, no whitespace), so
    the same data sent with other key order or spacing has the same fingerprint."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    # surrogatepass: a lone surrogate that slipped past the parser still hashes, not a 500.
    text = f"{method.upper()}\n{path}\n{canonical}"
    return hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()


def _running_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=settings.IDEMPOTENCY_RUNNING_TIMEOUT_SECONDS)


def idempotency_claim(
    *, scope: str, key: str, request_hash: str, now: dt.datetime | None = None
) -> Claim:
    """Claim ``key`` in ``scope`` for a request with fingerprint ``request_hash``.

    Returns PROCEED (the caller must later call ``idempotency_finish`` or
    ``idempotency_release``) or REPLAY (the stored response is on the row). Raises
    IdempotencyKeyReused for another fingerprint and IdempotencyInProgress while the first
    request still runs. The INSERT runs in its own transaction: outside any request transaction
    it commits at once, so concurrent twins see it."""
    now = now or timezone.now()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    state=IdempotencyKey.State.RUNNING,
                    created_at=now,
                )
            return Claim(ClaimState.PROCEED, row)
        except IntegrityError:
            row = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if row is None:
            continue  # released by its owner between our INSERT and SELECT: claim again
        if row.request_hash != request_hash:
            raise IdempotencyKeyReused()
        if row.state == IdempotencyKey.State.DONE:
            return Claim(ClaimState.REPLAY, row)
        if row.created_at < now - _running_timeout():
            # Abandoned by a request that died. Take it over atomically: of several takers only
            # the one whose UPDATE still matches the old created_at wins.
            taken = IdempotencyKey.objects.filter(
                pk=row.pk, state=IdempotencyKey.State.RUNNING, created_at=row.created_at
            ).update(created_at=now)
            if taken:
                row.created_at = now
                return Claim(ClaimState.PROCEED, row)
        raise IdempotencyInProgress()
    raise IdempotencyInProgress()


def idempotency_finish(*, row: IdempotencyKey, status: int, body: Any) -> bool:
    """Store the response of the claimed request; False if the claim was lost meanwhile (taken
    over after the running timeout), in which case the other owner's result stands."""
    return bool(
        IdempotencyKey.objects.filter(
            pk=row.pk, state=IdempotencyKey.State.RUNNING, created_at=row.created_at
        ).update(state=IdempotencyKey.State.DONE, response_status=status, response_body=body)
    )


def idempotency_release(*, row: IdempotencyKey) -> None:
    """Forget a claim whose request failed unexpectedly, so the client can retry the key."""
    IdempotencyKey.objects.filter(
        pk=row.pk, state=IdempotencyKey.State.RUNNING, created_at=row.created_at
    ).delete()


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (done or abandoned). Safe to run
    twice or concurrently: a second run finds nothing left to delete."""
    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _detail = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
