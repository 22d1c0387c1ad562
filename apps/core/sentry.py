"""Error reporting to Sentry, only when ``SENTRY_DSN`` is set (``config.settings.base`` calls
``sentry_init``). Personal data must not leave: the SDK is told not to send it
(``data_collection``, sentry-sdk's successor of ``send_default_pii=False``: no user e-mail,
no IP, no cookies, no query strings), request bodies and local variables are never attached,
and ``scrub`` (the ``before_send`` and ``before_send_transaction`` hook) replaces every e-mail
address and phone number left in any string of the event (exception messages, log messages,
breadcrumbs, URLs) and keeps only the id of a user.

This module imports nothing of Django's models: settings import it."""

import re
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from .request_id import request_id_get

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: 7+ digits, optionally led by + and split by spaces, dots, dashes, brackets.
PHONE = re.compile(r"(?<![\w])\+?\d(?:[\s().-]?\d){6,}(?![\w])")


# Dates and times look like long digit runs; they are no one's number.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")


def _phone(match: re.Match) -> str:
    return match.group() if _DATE.fullmatch(match.group()) else "[phone]"


def redact(text: str) -> str:
    """``text`` with every e-mail address and phone number replaced."""
    return PHONE.sub(_phone, EMAIL.sub("[email]", text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def scrub(event: dict, hint: dict | None = None) -> dict:
    """Keep only a user's id, drop request bodies and cookies, redact every string; tag the
    event with the request id, which finds its log lines."""
    event.setdefault("tags", {})["request_id"] = request_id_get()
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies"):
            request.pop(key, None)
    return _scrub(event)


def sentry_init(
    *, dsn: str, environment: str, release: str = "", traces_sample_rate: float = 0.0
) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # What sentry-sdk 2.x calls send_default_pii=False (that option is deprecated in
        # favour of this one), tightened: no bodies, cookies, query strings or local variables.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": ["user-agent"]}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        max_request_body_size="never",
        before_send=scrub,
        before_send_transaction=scrub,
        traces_sample_rate=traces_sample_rate,
    )
