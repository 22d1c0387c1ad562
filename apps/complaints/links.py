"""Signed links a member follows from an e-mail without logging in (the one-click rating)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "complaints.rating"
MAX_AGE = 60 * 60 * 24 * 90  # a rating link works for 90 days


def rating_token_make(*, ticket_id: int) -> str:
    return signing.dumps({"t": ticket_id}, salt=SALT, compress=True)


def rating_token_read(token: str) -> int | None:
    """The ticket id a rating link is for, or None when forged or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    value = data.get("t") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def rating_url(*, ticket_id: int, score: int) -> str:
    path = reverse(
        "portal:complaint-rate",
        kwargs={"token": rating_token_make(ticket_id=ticket_id), "score": score},
    )
    return settings.SITE_URL.rstrip("/") + path


def portal_url(*, reference: str) -> str:
    path = reverse("portal:complaint-detail", kwargs={"reference": reference})
    return settings.SITE_URL.rstrip("/") + path
