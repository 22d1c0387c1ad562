"""Inbound e-mail, app-agnostic: raw MIME from a mail gateway in, a plain ``InboundMail`` out
(who, about what, the new text without the quoted conversation, the attachments).

Decisions:
- The standard library parser with ``policy.default``: it decodes RFC 2047 words (subjects and
  names) and RFC 2231 parameters (Chinese attachment names) and records defects instead of
  raising on malformed headers; every header read is still guarded, so a broken one is empty.
- Chinese mail labelled ``gb2312`` or ``gbk`` often holds characters only GB18030 (their
  superset) has: those labels are read as GB18030, in bodies and in encoded words.
- Auto-replies, bounces and list mail (``Auto-Submitted``, ``Precedence``, ``X-Autoreply``, an
  empty ``Return-Path``, ``multipart/report``) are flagged, so a ticket never answers a robot.
- Limits (``INBOUND_MAIL_MAX_BYTES``, ``INBOUND_MAIL_MAX_PARTS``) refuse a message before or
  while walking it.
- HTML bodies become text with ``apps.core.mail_text`` (one pass, not ``html.parser``, which is
  quadratic on unterminated markup).
- ``strip_quoted_reply`` cuts the reply at the first quote header that English and Chinese mail
  clients write (Gmail, Apple Mail, Outlook, Foxmail, QQ Mail), at ``>`` lines, and drops
  "Sent from my iPhone" signatures; it never returns nothing when there was text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.utils.translation import gettext as _

from .exceptions import ValidationFailed
from .mail_text import html_to_text

_GB_LABEL = re.compile(rb"(?i)(charset\s*=\s*\"?|=\?)(gb2312|gbk|x-gbk|cp936)")


class InboundMailRefused(ValidationFailed):
    code = "inbound_mail_refused"


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    from_address: str
    from_name: str
    to: list[str]
    subject: str
    text: str
    in_reply_to: str = ""
    auto_submitted: bool = False
    attachments: list[InboundAttachment] = field(default_factory=list)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
        return str(value).strip() if value is not None else ""
    except Exception:  # a header the parser could not read is no header
        return ""


def _auto(message: EmailMessage) -> bool:
    auto = _header(message, "Auto-Submitted").lower()
    precedence = _header(message, "Precedence").lower()
    return (
        (auto not in ("", "no"))
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or bool(_header(message, "X-Autoreply") or _header(message, "X-Autorespond"))
        or _header(message, "Return-Path") == "<>"
        or message.get_content_type() == "multipart/report"
    )


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("gb18030" if payload[:1] >= b"\x80" else "utf-8", errors="replace")


def parse_message(raw: bytes) -> InboundMail:
    """Raw MIME to ``InboundMail``, or ``InboundMailRefused`` (too large, too complex, empty)."""
    if len(raw) > settings.INBOUND_MAIL_MAX_BYTES:
        raise InboundMailRefused(_("The message is too large."), code="inbound_mail_too_large")
    # A flood of tiny parts costs the parser more than their bytes suggest: count the boundary
    # lines first (each part has one), then the parsed parts exactly.
    if raw.count(b"\n--") > 2 * settings.INBOUND_MAIL_MAX_PARTS:
        raise InboundMailRefused(
            _("The message has too many parts."), code="inbound_mail_too_complex"
        )
    message = BytesParser(policy=policy.default).parsebytes(_GB_LABEL.sub(rb"\1gb18030", raw))
    for parts, _part in enumerate(message.walk(), start=1):
        if parts > settings.INBOUND_MAIL_MAX_PARTS:
            raise InboundMailRefused(
                _("The message has too many parts."), code="inbound_mail_too_complex"
            )
    text = ""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, AttributeError):
        body = None
    if body is not None:
        content = _content(body)
        text = html_to_text(content) if body.get_content_type() == "text/html" else content
    attachments = []
    for part in message.iter_attachments() if message.is_multipart() else []:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            name = part.get_filename() or "attachment"
            attachments.append(InboundAttachment(str(name), part.get_content_type(), payload))
    if not text.strip() and not attachments:
        raise InboundMailRefused(_("The message has no text."), code="inbound_mail_empty")
    from_name, from_address = parseaddr(_header(message, "From"))
    to = [
        addr.lower()
        for _n, addr in getaddresses(
            [_header(message, "To"), _header(message, "Cc"), _header(message, "Delivered-To")]
        )
        if addr
    ]
    return InboundMail(
        message_id=_header(message, "Message-ID")[:250],
        from_address=from_address.lower(),
        from_name=from_name,
        to=to,
        subject=_header(message, "Subject"),
        text=text.replace("\r\n", "\n").strip(),
        in_reply_to=_header(message, "In-Reply-To")[:250],
        auto_submitted=_auto(message),
        attachments=attachments,
    )


_QUOTE_HEADERS = [
    re.compile(r"^On .{5,200}wrote:\s*$", re.I),
    re.compile(r"^-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$", re.I),
    re.compile(r"^-{2,}\s*原始邮件\s*-{2,}\s*$"),
    re.compile(r"^(发件人|From)\s*[:：].+$"),
    re.compile(r"^在.{2,80}(写道|wrote)\s*[:：]\s*$"),
    re.compile(r"^\d{4}[年/-]\d{1,2}[月/-]\d{1,2}.{0,60}(写道|wrote)\s*[:：]?\s*$"),
]
_SIGNATURES = re.compile(r"^(Sent from my \w+|发自我的\s?\w+|Get Outlook for \w+)\s*$", re.I)


def strip_quoted_reply(text: str) -> str:
    """The new part of a reply: up to the first quote header or quoted line, signatures off."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or any(p.match(stripped) for p in _QUOTE_HEADERS):
            break
        if _SIGNATURES.match(stripped):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    return result or text.strip()
