"""Signing a delivery. Each request carries

    Clientele-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>

where ``body`` is the exact bytes of the request body. A receiver recomputes the HMAC with its
copy of the secret, compares in constant time, and refuses a timestamp older than a few minutes
(replayed requests). docs/integrations.md has the receiver's side."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Clientele-Signature"
EVENT_HEADER = "Clientele-Event"
DELIVERY_HEADER = "Clientele-Delivery"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
DEFAULT_TOLERANCE_SECONDS = 300


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret=secret, timestamp=t, body=body)}"


def signature_verify(
    *,
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """The receiver's check (also what docs/integrations.md shows): a ``v1`` signature of the
    body at ``t`` made with ``secret``, and ``t`` no further than ``tolerance`` seconds away."""
    try:
        parts = [p.split("=", 1) for p in header.split(",")]
        timestamp = int(next(v for k, v in parts if k.strip() == "t"))
        candidates = [v.strip() for k, v in parts if k.strip() == "v1"]
    except (ValueError, StopIteration):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
