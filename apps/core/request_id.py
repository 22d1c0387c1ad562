"""The request id: one token per request, carried into every log record and into the Celery
tasks the request queues, so that one line of a log finds every other line of the same work.

A client or proxy may send ``X-Request-ID``; it is kept when it is a sane token (letters,
digits and ``._:-``, at most 128 characters), otherwise a new one is made. The response echoes
it. Celery carries it in a task header (``apps.core.observability``). This module imports
nothing of the models: the logging configuration loads its filter before the apps are ready.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# Also what the log filter writes when no request or task is running (management commands).
NONE = "-"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# The JSON log line (config.settings.prod, LOG_FORMAT=json): time, level, logger, message,
# request_id, and the extras a caller passed, but never ``request``: Django's request log
# lines pass the request object, whose text holds the query string (a customer search).
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    "reserved_attrs": [*RESERVED_ATTRS, "request"],
}

_current: ContextVar[str] = ContextVar("request_id", default=NONE)


def request_id_get() -> str:
    """The id of the work running now (``-`` outside any request or task)."""
    return _current.get()


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_clean(value: str | None) -> str | None:
    """``value`` when it is a sane token: nothing that could forge a log line or a header."""
    if value and _SANE.fullmatch(value):
        return value
    return None


def request_id_set(value: str) -> Token:
    """Bind ``value`` until ``request_id_reset(token)`` (Celery's prerun / postrun pair)."""
    return _current.set(value)


def request_id_reset(token: Token) -> None:
    _current.reset(token)


@contextmanager
def request_id_bound(value: str) -> Iterator[str]:
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def request_id_clear(**kwargs) -> None:
    """``request_finished``: the request's work is over (its access and error lines written)."""
    _current.set(NONE)


class RequestIdMiddleware:
    """Bind the request's id and echo it in the response. Placed near the top, so that a
    redirect or refusal by a later middleware carries it too. The id stays bound until
    ``request_finished`` (``request_id_clear``): Django writes a failed request's log line
    (``django.request``) after the middleware has returned."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = request_id_clean(request.META.get(META_KEY)) or request_id_new()
        request.request_id = value
        _current.set(value)
        response = self.get_response(request)
        response.headers[HEADER] = value
        return response


class RequestIdFilter:
    """A logging filter that gives every record a ``request_id`` attribute (the formatters,
    plain and JSON, print it). Put it on the handlers, so that it sees every record they print,
    whichever logger it came from."""

    def filter(self, record) -> bool:
        record.request_id = _current.get()
        return True
