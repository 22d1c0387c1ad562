"""What one customer receives: the variant's content in their language, rendered in the sandbox
with their context, and for e-mail an HTML part with tracked links and the open pixel."""

import datetime as dt
import html
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.template.loader import get_template
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _

from apps.core.formatting import money
from apps.customers.enums import Channel
from apps.customers.services import unsubscribe_token_make

from .models import Campaign, Message, Variant
from .templating import render

TRACK_SALT = "clientele.campaigns.track"
# A link ends at a space, a quote or bracket, or Chinese punctuation (…/me/rewards/。).
URL_RE = re.compile(r"https?://[^\s<>\"'\u3000-\u303f\uff00-\uffef]+")
LANGUAGES = [code for code, _name in settings.LANGUAGES]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str = ""


def site_url(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def language_for(customer) -> str:
    lang = (customer.preferred_language or settings.LANGUAGE_CODE).lower()
    return lang if lang in LANGUAGES else settings.LANGUAGE_CODE


def localized(variant: Variant, field: str, lang: str) -> str:
    """The field in ``lang``, else in the other language (a variant written in one only)."""
    value = getattr(variant, f"{field}_{lang.replace('-', '_')}", "") or ""
    if value:
        return value
    for other in LANGUAGES:
        value = getattr(variant, f"{field}_{other.replace('-', '_')}", "") or ""
        if value:
            return value
    return ""


def track_token(message_id: int, url: str = "") -> str:
    return signing.dumps([message_id, url], salt=TRACK_SALT, compress=True)


def track_read(token: str) -> tuple[int, str]:
    """(message id, url) of a signed tracking token; ``signing.BadSignature`` otherwise."""
    message_id, url = signing.loads(token, salt=TRACK_SALT)
    return int(message_id), str(url)


@lru_cache(maxsize=8)
def _url_pattern(name: str) -> str:
    """The absolute URL of a one-token route with a placeholder (reversing per message costs
    more than the rest of a message's rendering)."""
    return site_url(reverse(name, kwargs={"token": "__TOKEN__"}))


def token_url(name: str, token: str) -> str:
    return _url_pattern(name).replace("__TOKEN__", token)


def unsubscribe_url(customer, channel: str, purpose: str) -> str:
    token = unsubscribe_token_make(customer=customer, channel=channel, purpose=purpose)
    return token_url("portal:unsubscribe", token)


@lru_cache(maxsize=8)
def _unsubscribe_words(lang: str) -> str:
    with translation.override(lang):
        return str(_("Unsubscribe:"))


@lru_cache(maxsize=512)
def _date_text(day: dt.date, lang: str) -> str:
    with translation.override(lang):
        return formats.date_format(day, "DATE_FORMAT")


@lru_cache(maxsize=512)
def _coupon_value(kind: str, value, lang: str) -> str:
    if kind == "percent":
        return f"{value.normalize():f}%"
    with translation.override(lang):
        return money(value)


def context_for(
    *,
    customer,
    lang: str,
    account: tuple[int, int | None] | None,
    tier_names: dict[int, dict[str, str]],
    expiring: tuple[int, dt.datetime] | None,
    coupon=None,
    bonus_points: int = 0,
    unsubscribe: str = "",
) -> dict:
    """The fixed sandbox context (``templating.CONTEXT_NAMES``): strings and numbers only."""
    balance, tier_id = account or (0, None)
    expiring_on = _date_text(expiring[1].date(), lang) if expiring else ""
    coupon_value = _coupon_value(coupon.kind, coupon.value, lang) if coupon is not None else ""
    return {
        "first_name": customer.greeting_name,
        "member_number": customer.member_number,
        "tier": tier_names.get(tier_id, {}).get(lang, "") if tier_id else "",
        "points": balance,
        "expiring_points": expiring[0] if expiring else 0,
        "expiring_on": expiring_on,
        "coupon_code": coupon.code if coupon is not None else "",
        "coupon_value": coupon_value,
        "bonus_points": bonus_points,
        "links": {
            "portal": site_url("/me/"),
            "rewards": site_url("/me/rewards/"),
            "coupons": site_url("/me/coupons/"),
            "points": site_url("/me/points/"),
            "unsubscribe": unsubscribe,
        },
    }


def _html_body(text: str, *, message_id: int | None, tracking: bool) -> str:
    """Paragraphs of the plain text, escaped; links clickable (through the signed redirect when
    tracking)."""

    def link(match: re.Match) -> str:
        url = html.unescape(match.group(0))
        href = (
            token_url("portal:campaign-click", track_token(message_id, url))
            if tracking and message_id
            else url
        )
        return f'<a href="{html.escape(href)}">{html.escape(url)}</a>'

    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n".join(
        "<p>" + URL_RE.sub(link, html.escape(p)).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


def compose(
    *,
    campaign: Campaign,
    variant: Variant,
    channel: str,
    lang: str,
    context: dict,
    message_id: int | None = None,
    tracking: bool = False,
) -> Rendered:
    """The message for one customer; ``templating.TemplateFailed`` when it cannot render."""
    if channel == Channel.SMS:
        return Rendered(subject="", text=render(localized(variant, "sms_body", lang), context))
    subject = render(localized(variant, "subject", lang), context).strip()
    text = render(localized(variant, "body", lang), context)
    if channel != Channel.EMAIL:
        return Rendered(subject=subject, text=text)
    pixel = (
        token_url("portal:campaign-open", track_token(message_id))
        if tracking and message_id
        else ""
    )
    unsubscribe = context["links"]["unsubscribe"]
    page = (
        _email_shell(lang, bool(pixel), bool(unsubscribe))
        .replace(SUBJECT_SLOT, html.escape(subject))
        .replace(BODY_SLOT, _html_body(text, message_id=message_id, tracking=tracking))
        .replace(PIXEL_SLOT, html.escape(pixel))
        .replace(UNSUBSCRIBE_SLOT, html.escape(unsubscribe))
    )
    if unsubscribe:  # the text part carries the one-click link too
        text = f"{text.rstrip()}\n\n--\n{_unsubscribe_words(lang)} {unsubscribe}\n"
    return Rendered(subject=subject, text=text, html=page)


SUBJECT_SLOT, BODY_SLOT = "\x00subject\x00", "\x00body\x00"
PIXEL_SLOT, UNSUBSCRIBE_SLOT = "\x00pixel\x00", "\x00unsubscribe\x00"


@lru_cache(maxsize=16)
def _email_shell(lang: str, pixel: bool, unsubscribe: bool) -> str:
    """The e-mail layout rendered once per language with slots for what differs per member
    (filled with escaped values): a template render per message costs more than the rest."""
    with translation.override(lang):
        return get_template("emails/campaign.html").render(
            {
                "subject": SUBJECT_SLOT,
                "body": BODY_SLOT,
                "pixel": PIXEL_SLOT if pixel else "",
                "unsubscribe_url": UNSUBSCRIBE_SLOT if unsubscribe else "",
                "LANGUAGE_CODE": lang,
            }
        )


def message_key(message: Message) -> str:
    return f"campaign-message:{message.pk}"
