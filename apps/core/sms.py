"""SMS back-ends. The gateway is the only thing that leaves the machine, so tests replace it.

``HttpSmsBackend`` speaks a generic JSON-over-HTTP gateway with the standard library; the
receipt helpers (``sms_receipt_verify``, ``sms_receipt_parse``) read the gateway's delivery
reports for the view that receives them. Nothing here ever logs or raises with a message body
or a full phone number in it: operators read these reasons, and logs are kept.
"""

import hashlib
import hmac
import json
import logging
import math
import re
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from importlib import import_module
from typing import Any, Literal
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# A gateway's explanation is kept to this many characters in a reason.
REASON_MAX_CHARS = 200
# Longest wait between two attempts, in seconds, whatever the back-off or ``Retry-After`` says.
WAIT_MAX_SECONDS = 30.0
# Bytes of a gateway answer read at most: an id or an error fits in far less.
ANSWER_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    reference: str = ""


# Messages the locmem back-end "sent", oldest first (like ``django.core.mail.outbox``).
outbox: list[SmsMessage] = []


class SmsSendFailed(Exception):
    """The gateway did not take the message. ``reason`` is short and safe to show an operator
    (no message body, no full number); ``permanent`` says whether sending it again as it is
    could ever work (the gateway refused it) or it failed on something passing (the gateway
    was down, slow or busy for every attempt)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep ``permanent`` when the exception crosses a process (Celery results pickle it).
        return (_sms_send_failed, (self.reason, self.permanent))


def _sms_send_failed(reason: str, permanent: bool) -> SmsSendFailed:
    return SmsSendFailed(reason, permanent=permanent)


class BaseSmsBackend:
    def send(self, *, to: str, body: str, reference: str = "") -> str:
        """Send one message; return the gateway's message id. ``reference`` is our own id for
        the message, passed to the gateway so that its delivery receipts can be matched."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Development back-end: logs that a message was sent (length only, never the content)."""

    def send(self, *, to: str, body: str, reference: str = "") -> str:
        logger.info("sms queued to=%s chars=%d ref=%s", _mask_number(to), len(body), reference)
        return "console"


class LocmemSmsBackend(BaseSmsBackend):
    """Test back-end: keeps every message in ``outbox`` (the test settings select it; the
    ``sms_outbox`` fixture empties it for each test that reads it)."""

    def send(self, *, to: str, body: str, reference: str = "") -> str:
        outbox.append(SmsMessage(to=to, body=body, reference=reference))
        return f"locmem-{len(outbox)}"


# --- HTTP gateway ------------------------------------------------------------------------------


class _Transient(Exception):
    """One attempt failed on something that may pass: try again (after ``retry_after`` seconds
    when the gateway said so)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would repeat a POST as a bodiless GET, with our bearer token,
    to wherever the ``Location`` points. A moved gateway is a setting to fix, not to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpSmsBackend(BaseSmsBackend):
    """A generic JSON gateway: ``POST SMS_HTTP_URL`` with ``{"to", "body", "reference"}`` and a
    bearer token; a 2xx answer ``{"id": ...}`` is the gateway's message id.

    Connection errors, timeouts, 429 and 5xx are tried again, up to ``SMS_HTTP_RETRIES`` more
    times, waiting ``SMS_HTTP_BACKOFF`` × 2ⁿ seconds (or the gateway's numeric ``Retry-After``,
    at most 30 s); any other answer is final. Every attempt carries the same ``reference``, so
    a gateway that de-duplicates on it makes a retry after a lost answer harmless.
    """

    def __init__(self) -> None:
        url = settings.SMS_HTTP_URL
        if not url:
            raise ImproperlyConfigured("HttpSmsBackend needs SMS_HTTP_URL.")
        if urlsplit(url).scheme not in ("http", "https"):
            raise ImproperlyConfigured("SMS_HTTP_URL must be an http:// or https:// address.")
        self.url: str = url
        self.token: str = settings.SMS_HTTP_TOKEN
        self.timeout = float(settings.SMS_HTTP_TIMEOUT)
        self.retries = max(0, int(settings.SMS_HTTP_RETRIES))
        self.backoff = max(0.0, float(settings.SMS_HTTP_BACKOFF))
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, *, to: str, body: str, reference: str = "") -> str:
        data = json.dumps({"to": to, "body": body, "reference": reference}).encode()
        attempts = self.retries + 1
        reason = ""
        for attempt in range(attempts):
            try:
                provider_id = self._post(data, to=to, body=body)
            except _Transient as exc:
                reason = exc.reason
                logger.warning(
                    "sms attempt %d/%d failed to=%s ref=%s: %s",
                    attempt + 1,
                    attempts,
                    _mask_number(to),
                    reference,
                    reason,
                )
                if attempt + 1 < attempts:
                    wait = exc.retry_after
                    wait = self.backoff * 2**attempt if wait is None else wait
                    time.sleep(min(wait, WAIT_MAX_SECONDS))
                continue
            except SmsSendFailed as exc:
                logger.warning(
                    "sms refused to=%s ref=%s: %s", _mask_number(to), reference, exc.reason
                )
                raise
            logger.info("sms sent to=%s ref=%s id=%s", _mask_number(to), reference, provider_id)
            return provider_id
        raise SmsSendFailed(f"gateway unavailable after {attempts} attempts: {reason}")

    def _post(self, data: bytes, *, to: str, body: str) -> str:
        """One attempt: the gateway's message id, or ``_Transient`` / ``SmsSendFailed``."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # The scheme is checked in __init__: only http(s) reaches urlopen.
        request = urllib.request.Request(  # noqa: S310
            self.url, data=data, headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, answer = response.status, response.read(ANSWER_MAX_BYTES)
        except HTTPError as exc:
            with exc:
                answer = _read_quietly(exc)
            raise _status_error(exc.code, exc.headers, answer, to=to, body=body) from exc
        except (OSError, HTTPException) as exc:
            raise _Transient(self._network_reason(exc)) from exc
        provider_id = _provider_id(_json_or_none(answer))
        if provider_id is None:
            raise SmsSendFailed(
                f"gateway accepted the message ({status}) but sent no message id",
                permanent=True,
            )
        return provider_id

    def _network_reason(self, exc: BaseException) -> str:
        cause = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(cause, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(cause, OSError) and cause.strerror:
            return f"connection failed: {cause.strerror}"
        return f"connection failed: {_clean(str(cause)) or type(cause).__name__}"


def _read_quietly(exc: HTTPError) -> bytes:
    try:
        return exc.read(ANSWER_MAX_BYTES)
    except (OSError, HTTPException):
        return b""


def _status_error(
    status: int, headers: Any, answer: bytes, *, to: str, body: str
) -> _Transient | SmsSendFailed:
    """A non-2xx answer as ``_Transient`` (429, 5xx: try again) or ``SmsSendFailed`` (final)."""
    said = _gateway_says(_json_or_none(answer), to=to, body=body)
    if status == 429 or status >= 500:
        return _Transient(
            f"{status}: {said}" if said else str(status), retry_after=_retry_after(headers)
        )
    if 300 <= status < 400:
        return SmsSendFailed(
            f"gateway redirected ({status}); point SMS_HTTP_URL at the final address",
            permanent=True,
        )
    return SmsSendFailed(
        f"gateway refused the message ({status})" + (f": {said}" if said else ""), permanent=True
    )


def _retry_after(headers: Any) -> float | None:
    """The numeric ``Retry-After`` in seconds, at most 30; None when absent or an HTTP date."""
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, WAIT_MAX_SECONDS)


def _json_or_none(answer: bytes) -> Any:
    try:
        return json.loads(answer)
    except ValueError:  # also UnicodeDecodeError
        return None


def _provider_id(payload: Any) -> str | None:
    """A gateway's message id as text: a non-empty string or an integer ``id``."""
    if not isinstance(payload, dict):
        return None
    value = payload.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 255:
        return value.strip()
    return None


def _gateway_says(payload: Any, *, to: str = "", body: str = "") -> str:
    """The gateway's own explanation (``error`` or ``message``, also ``{"error": {"message"}}``),
    cleaned of the message and the number and cut to ``REASON_MAX_CHARS``; "" when none."""
    if not isinstance(payload, dict):
        return ""
    for key in ("error", "message"):
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            return _redact(value, to=to, body=body)
    return ""


# Six or more digits, with the separators people write numbers with: a phone number or a code.
_DIGIT_RUN = re.compile(r"\+?\d(?:[ \-.()/]?\d){5,}")


def _redact(text: str, *, to: str = "", body: str = "") -> str:
    """``text`` without the message body, with every long number masked (a gateway may echo the
    recipient, or the one-time code in the body), on one line, at most ``REASON_MAX_CHARS``."""
    if body.strip():
        text = text.replace(body, "[message]")
    if to:
        text = text.replace(to, _mask_number(to))
    text = _DIGIT_RUN.sub(lambda m: _mask_number(m.group()), text)
    text = _clean(text)
    if len(text) > REASON_MAX_CHARS:
        text = text[: REASON_MAX_CHARS - 1].rstrip() + "…"
    return text


def _clean(text: str) -> str:
    """One line of printable characters: no newline or escape from a remote party in a log."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _mask_number(number: str) -> str:
    """``***`` and the last four digits of a number of eight digits or more (enough to tell two
    recipients apart, too few to reach one); ``***`` alone for shorter ones (codes)."""
    digits = re.sub(r"\D", "", number)
    return f"***{digits[-4:]}" if len(digits) >= 8 else "***"


# --- delivery receipts -------------------------------------------------------------------------

# Gateways spell the final states many ways (SMPP's DELIVRD/UNDELIV, REST APIs' words);
# anything not listed — sent, accepted, queued, enroute, buffered, unknown — is not final.
# Ambiguous words ("success", "error": submitted or delivered?) are left out on purpose.
_RECEIPT_STATUSES: dict[str, Literal["delivered", "failed"]] = {
    **dict.fromkeys(("delivered", "delivrd", "dlvrd"), "delivered"),
    **dict.fromkeys(
        (
            "failed", "failure", "delivery_failed", "undelivered", "undeliv", "undeliverable",
            "rejected", "rejectd", "expired", "expird", "deleted", "aborted", "cancelled",
            "canceled",
        ),
        "failed",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SmsReceipt:
    """A final delivery report: ``provider_id`` is the id ``send`` returned."""

    provider_id: str
    status: Literal["delivered", "failed"]
    reason: str
    at: datetime | None


def sms_receipt_parse(payload: Any) -> SmsReceipt | None:
    """The final state a gateway reports, or None for an intermediate state (``sent``,
    ``queued``…), an unknown one, or anything that is not a receipt. Never raises: the payload
    comes from outside. ``at`` is None when missing or unreadable; a time without an offset is
    taken as UTC (gateways report in UTC)."""
    if not isinstance(payload, dict):
        return None
    provider_id = _provider_id(payload)
    status_raw = payload.get("status")
    if provider_id is None or not isinstance(status_raw, str):
        return None
    status = _RECEIPT_STATUSES.get(status_raw.strip().lower())
    if status is None:
        return None
    reason = _gateway_says(payload) if status == "failed" else ""
    return SmsReceipt(provider_id=provider_id, status=status, reason=reason, at=_when(payload))


def _when(payload: dict[str, Any]) -> datetime | None:
    value = payload.get("at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sms_receipt_verify(body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 (hex, optionally ``sha256=``-prefixed) of the
    raw request ``body`` under ``SMS_HTTP_RECEIPT_SECRET``. False when no secret is set: an
    unsigned receipt is never trusted."""
    secret = settings.SMS_HTTP_RECEIPT_SECRET
    if not secret or not isinstance(signature, str) or not isinstance(body, bytes):
        return False
    given = signature.strip().lower().removeprefix("sha256=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header may hold anything.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def get_sms_backend() -> BaseSmsBackend:
    module_path, _, cls_name = settings.SMS_BACKEND.rpartition(".")
    return getattr(import_module(module_path), cls_name)()
