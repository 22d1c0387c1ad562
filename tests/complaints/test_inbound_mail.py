"""A member's e-mail reply comes back into the ticket: real MIME samples (QQ Mail in GBK with
its quote separator, Apple Mail HTML with a Chinese-named photo, Gmail, Outlook in Chinese, an
auto-reply, a malformed one), the gateway's signature, matching by signed address or reference,
exactly once per Message-ID."""

import hashlib
import hmac
import time
from pathlib import Path

import pytest

from apps.complaints.models import Attachment, TicketMessage
from apps.core.mail_inbound import InboundMailRefused, parse_message, strip_quoted_reply
from apps.core.mail_signing import parse_reply_address, reply_address

pytestmark = pytest.mark.django_db

MIME = Path(__file__).parent / "mime"
SECRET = "gateway-secret-for-tests"
URL = "/api/v1/inbound/email/"


def sample(name: str, ticket=None) -> bytes:
    raw = (MIME / name).read_bytes()
    address = reply_address("t", ticket.pk) if ticket else "support@clientele.local"
    return raw.replace(b"{{REPLY_TO}}", address.encode())


def post(client, raw: bytes, *, secret: str = SECRET, stamp: int | None = None):
    timestamp = str(stamp if stamp is not None else int(time.time()))
    signature = hmac.new(
        secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    return client.post(
        URL,
        raw,
        content_type="message/rfc822",
        HTTP_X_CLIENTELE_TIMESTAMP=timestamp,
        HTTP_X_CLIENTELE_SIGNATURE=signature,
    )


@pytest.fixture(autouse=True)
def gateway(settings):
    settings.INBOUND_MAIL_SECRET = SECRET


def test_parses_qq_mail_in_gbk_and_cuts_the_quote():
    mail = parse_message(sample("qq_reply_gbk.eml"))
    assert mail.subject == "回复：关于订单 C-2026-000123 的投诉"
    assert mail.from_name == "王芳" and mail.from_address == "wang.fang@example.org"
    assert strip_quoted_reply(mail.text) == "好的，我是在徐汇店取的货，上周六。"


def test_parses_apple_mail_html_and_its_chinese_named_photo():
    mail = parse_message(sample("apple_html_photo.eml"))
    assert mail.subject == "Re: [C-2026-000123] 杯子到货时已破裂"
    assert (
        "p{color" not in mail.text
        and strip_quoted_reply(mail.text) == "杯子的照片在附件里。\n\n谢谢！"
    )
    (photo,) = mail.attachments
    assert photo.filename == "杯子照片.jpg" and photo.payload[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gmail_reply_en.eml", "Thanks, the store was Jing'an."),
        ("outlook_cn.eml", "包裹今天收到了，谢谢。"),
    ],
)
def test_quotes_of_other_clients_are_cut(name, expected):
    assert strip_quoted_reply(parse_message(sample(name)).text) == expected


def test_auto_replies_are_flagged_and_malformed_mail_still_parses():
    assert parse_message(sample("auto_reply.eml")).auto_submitted
    odd = parse_message(sample("malformed.eml"))
    assert odd.from_address == "odd@example.org" and odd.text


def test_reply_addresses_are_signed():
    address = reply_address("t", 123)
    assert parse_reply_address(f"Support <{address.upper()}>") == ("t", 123)
    forged = address.replace("reply+t-", "reply+t-a")
    assert parse_reply_address(forged) is None


def test_a_reply_lands_in_its_ticket_once_with_its_photo(client, open_ticket):
    ticket = open_ticket()
    raw = sample("apple_html_photo.eml", ticket)
    response = post(client, raw)
    assert response.status_code == 200 and response.json() == {
        "status": "added",
        "reference": ticket.reference,
        "reason": "",
    }
    message = TicketMessage.objects.get()
    assert message.via == "email" and message.author_kind == "customer"
    assert message.body == "杯子的照片在附件里。\n\n谢谢！"
    assert Attachment.objects.get().name == "杯子照片.jpg"
    again = post(client, raw)
    assert again.json()["status"] == "duplicate" and TicketMessage.objects.count() == 1


def test_a_reference_matches_only_from_the_members_own_address(client, open_ticket, customer):
    ticket = open_ticket()
    raw = sample("gmail_reply_en.eml").replace(b"C-2026-000123", ticket.reference.encode())
    customer.email = "wei.zhang@example.org"
    customer.save(update_fields=["email"])
    assert post(client, raw).json()["status"] == "added"
    stranger = raw.replace(b"wei.zhang@example.org", b"someone@example.net").replace(
        b"<CAF=gmail", b"<other"
    )
    assert post(client, stranger).json()["status"] == "unmatched"
    assert TicketMessage.objects.count() == 1


def test_auto_replies_are_ignored(client, open_ticket):
    ticket = open_ticket()
    response = post(client, sample("auto_reply.eml", ticket))
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    assert not TicketMessage.objects.exists()


@pytest.mark.parametrize("how", ["bad-secret", "old", "unsigned"])
def test_unsigned_or_stale_posts_are_refused(client, open_ticket, how):
    raw = sample("qq_reply_gbk.eml", open_ticket())
    if how == "unsigned":
        response = client.post(URL, raw, content_type="message/rfc822")
    else:
        response = post(
            client,
            raw,
            secret="wrong" if how == "bad-secret" else SECRET,
            stamp=int(time.time()) - 3600 if how == "old" else None,
        )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not TicketMessage.objects.exists()


def test_without_a_secret_everything_is_refused(client, open_ticket, settings):
    raw = sample("qq_reply_gbk.eml", open_ticket())
    response = post(client, raw)
    settings.INBOUND_MAIL_SECRET = ""
    assert post(client, raw).status_code == 403
    assert response.status_code == 200


def test_hostile_html_parses_and_part_floods_are_refused(settings):
    settings.INBOUND_MAIL_MAX_PARTS = 10
    html = ("<a href=" * 20_000).encode()
    raw = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>" + html
    )
    # One pass over unterminated markup (html.parser took minutes on this: docs/decisions.md).
    assert parse_message(raw).text == "hi"
    flood = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\nx\r\n" * 50
    with pytest.raises(InboundMailRefused):
        parse_message(flood)
