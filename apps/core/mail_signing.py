"""Signed reply addresses and signed gateway requests for inbound e-mail.

``reply_address("t", 123)`` is ``reply+t-<id>-<mac>@<INBOUND_MAIL_DOMAIN>``: the id in base 32
and a 80-bit HMAC-SHA256 of kind and id (keyed by ``INBOUND_MAIL_SECRET`` or, without it,
``SECRET_KEY``), lower-case because mail systems may fold local parts. A reply to that address
names its ticket without anyone being able to forge one for another ticket.

A mail gateway posts raw MIME with ``X-Clientele-Timestamp`` (Unix seconds) and
``X-Clientele-Signature`` (hex HMAC-SHA256 of ``timestamp + "." + body`` with
``INBOUND_MAIL_SECRET``). ``verify_gateway_request`` refuses a missing secret (fail closed), a
bad signature and a timestamp more than five minutes away.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

MAC_BYTES = 10  # 80 bits
TOLERANCE_SECONDS = 300
_ADDRESS = re.compile(r"^reply\+([a-z]{1,8})-([a-z2-7]+)-([a-z2-7]+)@(.+)$")


class GatewayRefused(Exception):
    """The request did not come from our mail gateway."""


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _secret() -> str:
    return settings.INBOUND_MAIL_SECRET or settings.SECRET_KEY


def _mac(kind: str, object_id: int) -> str:
    digest = salted_hmac(
        "clientele.reply-address", f"{kind}:{object_id}", secret=_secret(), algorithm="sha256"
    )
    return _b32(digest.digest()[:MAC_BYTES])


def reply_address(kind: str, object_id: int) -> str:
    encoded = _b32(object_id.to_bytes((object_id.bit_length() + 7) // 8 or 1, "big"))
    return f"reply+{kind}-{encoded}-{_mac(kind, object_id)}@{settings.INBOUND_MAIL_DOMAIN}"


def parse_reply_address(address: str) -> tuple[str, int] | None:
    """(kind, id) of a signed reply address (with or without a display name), or None."""
    _name, addr = parseaddr(address or "")
    match = _ADDRESS.match(addr.strip().lower())
    if not match or match[4] != settings.INBOUND_MAIL_DOMAIN.lower():
        return None
    kind, encoded, mac = match[1], match[2], match[3]
    try:
        object_id = int.from_bytes(_unb32(encoded), "big")
    except (ValueError, base64.binascii.Error):
        return None
    if not constant_time_compare(mac, _mac(kind, object_id)):
        return None
    return kind, object_id


def gateway_signature(body: bytes, timestamp: str) -> str:
    key = settings.INBOUND_MAIL_SECRET.encode()
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_gateway_request(
    body: bytes, headers: Mapping[str, str], *, now: float | None = None
) -> None:
    if not settings.INBOUND_MAIL_SECRET:
        raise GatewayRefused("INBOUND_MAIL_SECRET is not set: inbound mail is refused.")
    timestamp = headers.get("X-Clientele-Timestamp", "")
    signature = headers.get("X-Clientele-Signature", "")
    if not timestamp.isdigit() or not signature:
        raise GatewayRefused("Missing gateway signature.")
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        raise GatewayRefused("The gateway timestamp is too old or in the future.")
    if not constant_time_compare(signature.lower(), gateway_signature(body, timestamp)):
        raise GatewayRefused("Bad gateway signature.")
