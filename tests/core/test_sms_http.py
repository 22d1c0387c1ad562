"""The HTTP SMS back-end against a fake gateway: a real HTTP server on 127.0.0.1, scripted per
test with the answers it gives in order, recording what it received. Nothing leaves the
machine; back-off is set to milliseconds so the retry tests stay fast."""

import hashlib
import hmac
import json
import pickle
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core import sms
from apps.core.sms import (
    HttpSmsBackend,
    LocmemSmsBackend,
    SmsMessage,
    SmsReceipt,
    SmsSendFailed,
    get_sms_backend,
    sms_receipt_parse,
    sms_receipt_verify,
)

PHONE = "+8613900000001"
BODY = "Your Clientele membership code is 482915. It expires in 10 minutes."


@dataclass
class Reply:
    status: int = 200
    json: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow gateway)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    json: object


class FakeGateway:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Received] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with gateway.lock:
                    gateway.requests.append(
                        Received(self.path, dict(self.headers.items()), json.loads(raw))
                    )
                    # Unscripted requests get a loud 599 so a test sees the extra attempt.
                    reply = gateway.replies.pop(0) if gateway.replies else Reply(599)
                if reply.delay and gateway.stopping.wait(reply.delay):
                    return
                payload = b"" if reply.json is None else json.dumps(reply.json).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: what a timeout test wants

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@pytest.fixture
def gateway(settings, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # 127.0.0.1 must be reached directly
    fake = FakeGateway()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    settings.SMS_HTTP_URL = fake.url
    settings.SMS_HTTP_TOKEN = "tok-123"
    settings.SMS_HTTP_TIMEOUT = 2.0
    settings.SMS_HTTP_RETRIES = 3
    settings.SMS_HTTP_BACKOFF = 0.01
    yield fake
    fake.stopping.set()
    fake.server.shutdown()
    fake.server.server_close()
    thread.join(timeout=5)


# --- sending ---------------------------------------------------------------------------------


def test_success_returns_the_gateway_id_and_posts_json_with_the_token(gateway):
    gateway.script(Reply(200, {"id": "msg-42"}))

    provider_id = HttpSmsBackend().send(to=PHONE, body=BODY, reference="ref-7")

    assert provider_id == "msg-42"
    [request] = gateway.requests
    assert request.path == "/v1/messages"
    assert request.json == {"to": PHONE, "body": BODY, "reference": "ref-7"}
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Content-Type"] == "application/json"


def test_no_authorization_header_without_a_token(gateway, settings):
    settings.SMS_HTTP_TOKEN = ""
    gateway.script(Reply(201, {"id": 9001}))

    assert HttpSmsBackend().send(to=PHONE, body=BODY) == "9001"
    [request] = gateway.requests
    assert "Authorization" not in request.headers
    assert request.json["reference"] == ""


def test_503_then_200_succeeds_after_one_retry(gateway):
    gateway.script(Reply(503, {"error": "maintenance"}), Reply(200, {"id": "msg-2"}))

    assert HttpSmsBackend().send(to=PHONE, body=BODY, reference="r") == "msg-2"
    assert len(gateway.requests) == 2
    assert gateway.requests[0].json == gateway.requests[1].json


def test_429_with_retry_after_zero_is_retried(gateway):
    gateway.script(
        Reply(429, {"error": "slow down"}, {"Retry-After": "0"}), Reply(200, {"id": "x"})
    )

    assert HttpSmsBackend().send(to=PHONE, body=BODY) == "x"
    assert len(gateway.requests) == 2


def test_retry_after_is_honoured_and_capped(monkeypatch, gateway):
    waits: list[float] = []
    monkeypatch.setattr(sms.time, "sleep", waits.append)
    gateway.script(
        Reply(429, headers={"Retry-After": "2"}),
        Reply(503, headers={"Retry-After": "3600"}),
        Reply(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        Reply(200, {"id": "late"}),
    )

    assert HttpSmsBackend().send(to=PHONE, body=BODY) == "late"
    # numeric, capped at 30 s, and an HTTP date falls back to the back-off (0.01 × 2²)
    assert waits == [2.0, 30.0, 0.04]


def test_400_is_permanent_after_exactly_one_request(gateway):
    gateway.script(Reply(400, {"error": "invalid number"}))

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is True
    assert caught.value.reason == "gateway refused the message (400): invalid number"
    assert len(gateway.requests) == 1


def test_persistent_500_fails_after_all_attempts_and_is_not_permanent(gateway):
    gateway.script(*[Reply(500, {"message": "boom"})] * 4)

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is False
    assert caught.value.reason == "gateway unavailable after 4 attempts: 500: boom"
    assert len(gateway.requests) == 4  # SMS_HTTP_RETRIES + 1


def test_a_slow_gateway_times_out_is_retried_then_fails(gateway, settings):
    settings.SMS_HTTP_TIMEOUT = 0.2
    settings.SMS_HTTP_RETRIES = 1
    gateway.script(*[Reply(200, {"id": "too-late"}, delay=1.0)] * 2)

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is False
    assert caught.value.reason == "gateway unavailable after 2 attempts: no answer within 0.2 s"
    assert len(gateway.requests) == 2


def test_a_timeout_then_an_answer_succeeds(gateway, settings):
    settings.SMS_HTTP_TIMEOUT = 0.2
    gateway.script(Reply(200, {"id": "lost"}, delay=1.0), Reply(200, {"id": "second"}))

    assert HttpSmsBackend().send(to=PHONE, body=BODY, reference="same") == "second"
    assert [r.json["reference"] for r in gateway.requests] == ["same", "same"]


def test_connection_refused_is_retried_then_fails(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{port}/"
    settings.SMS_HTTP_RETRIES = 2
    settings.SMS_HTTP_BACKOFF = 0.001

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is False
    assert caught.value.reason.startswith("gateway unavailable after 3 attempts: connection failed")


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        (Reply(400, {"error": f"bad number {PHONE} for message '{BODY}'"}), True),
        (Reply(422, {"message": "number 8613900000001 rejected: code 482915"}), True),
        (Reply(500, {"error": {"message": f"cannot reach {PHONE}"}}), False),
    ],
)
def test_the_reason_never_holds_the_body_or_the_full_number(gateway, settings, reply, permanent):
    settings.SMS_HTTP_RETRIES = 0
    gateway.script(reply)

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    reason = caught.value.reason
    assert caught.value.permanent is permanent
    assert BODY not in reason and "482915" not in reason
    assert "13900000001" not in reason and "***0001" in reason
    assert str(caught.value) == reason


def test_a_long_gateway_error_is_cut_to_one_short_line(gateway):
    gateway.script(Reply(400, {"error": "line one\nline two\x1b[31m " + "x" * 500}))

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    said = caught.value.reason.removeprefix("gateway refused the message (400): ")
    assert said.startswith("line one line two [31m x")
    assert len(said) == 200 and said.endswith("…")


@pytest.mark.parametrize("answer", [None, {"status": "ok"}, {"id": ""}, {"id": True}, ["id"]])
def test_a_2xx_without_an_id_is_not_sent_again(gateway, answer):
    gateway.script(Reply(200, answer))

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is True
    assert caught.value.reason == "gateway accepted the message (200) but sent no message id"
    assert len(gateway.requests) == 1


def test_a_redirect_is_not_followed(gateway):
    gateway.script(Reply(302, headers={"Location": "http://127.0.0.1:1/elsewhere"}))

    with pytest.raises(SmsSendFailed) as caught:
        HttpSmsBackend().send(to=PHONE, body=BODY)

    assert caught.value.permanent is True
    assert caught.value.reason.startswith("gateway redirected (302)")
    assert len(gateway.requests) == 1


def test_send_failed_keeps_permanent_across_pickling():
    failure = pickle.loads(pickle.dumps(SmsSendFailed("gateway refused", permanent=True)))  # noqa: S301
    assert (failure.reason, failure.permanent) == ("gateway refused", True)


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "ftp://gateway.example/"])
def test_a_missing_or_odd_url_is_improperly_configured(settings, url):
    settings.SMS_HTTP_URL = url
    with pytest.raises(ImproperlyConfigured):
        HttpSmsBackend()


def test_get_sms_backend_builds_the_http_backend(gateway, settings):
    settings.SMS_BACKEND = "apps.core.sms.HttpSmsBackend"
    assert isinstance(get_sms_backend(), HttpSmsBackend)


def test_locmem_keeps_the_reference(sms_outbox):
    LocmemSmsBackend().send(to=PHONE, body="hi", reference="ref-1")
    LocmemSmsBackend().send(to=PHONE, body="again")
    assert sms_outbox == [
        SmsMessage(to=PHONE, body="hi", reference="ref-1"),
        SmsMessage(to=PHONE, body="again", reference=""),
    ]


# --- delivery receipts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"id": "m1", "status": "delivered", "at": "2026-03-01T08:30:00Z"},
            SmsReceipt("m1", "delivered", "", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ),
        ({"id": "m1", "status": "DELIVRD"}, SmsReceipt("m1", "delivered", "", None)),
        (
            {
                "id": "m2",
                "status": "failed",
                "error": "handset off",
                "at": "2026-03-01T16:30+08:00",
            },
            SmsReceipt(
                "m2",
                "failed",
                "handset off",
                datetime(2026, 3, 1, 16, 30, tzinfo=timezone(timedelta(hours=8))),
            ),
        ),
        ({"id": "m3", "status": "undelivered"}, SmsReceipt("m3", "failed", "", None)),
        ({"id": "m3", "status": "UNDELIV", "message": "x"}, SmsReceipt("m3", "failed", "x", None)),
        ({"id": "m4", "status": "REJECTD"}, SmsReceipt("m4", "failed", "", None)),
        ({"id": "m4", "status": " Expired "}, SmsReceipt("m4", "failed", "", None)),
        ({"id": 77, "status": "delivered"}, SmsReceipt("77", "delivered", "", None)),
        # a naive time is UTC; an unreadable one is dropped, not the receipt
        (
            {"id": "m5", "status": "delivered", "at": "2026-03-01T08:30:00"},
            SmsReceipt("m5", "delivered", "", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ),
        (
            {"id": "m5", "status": "delivered", "at": "yesterday"},
            SmsReceipt("m5", "delivered", "", None),
        ),
        (
            {"id": "m5", "status": "delivered", "at": 1772353800},
            SmsReceipt("m5", "delivered", "", None),
        ),
        # a delivered receipt carries no reason; a failed one masks a number it quotes
        (
            {"id": "m6", "status": "delivered", "error": "none"},
            SmsReceipt("m6", "delivered", "", None),
        ),
        (
            {"id": "m6", "status": "failed", "error": f"{PHONE} unknown"},
            SmsReceipt("m6", "failed", "***0001 unknown", None),
        ),
        # intermediate and unknown states
        ({"id": "m7", "status": "sent"}, None),
        ({"id": "m7", "status": "accepted"}, None),
        ({"id": "m7", "status": "queued"}, None),
        ({"id": "m7", "status": "ENROUTE"}, None),
        ({"id": "m7", "status": "buffered"}, None),
        ({"id": "m7", "status": "success"}, None),
        ({"id": "m7", "status": "teleported"}, None),
        # garbage
        ({"status": "delivered"}, None),
        ({"id": "", "status": "delivered"}, None),
        ({"id": None, "status": "delivered"}, None),
        ({"id": ["m8"], "status": "delivered"}, None),
        ({"id": True, "status": "delivered"}, None),
        ({"id": "m8"}, None),
        ({"id": "m8", "status": 1}, None),
        ({"id": "m8", "status": {"state": "delivered"}}, None),
        ({}, None),
        (None, None),
        ("delivered", None),
        ([{"id": "m8", "status": "delivered"}], None),
    ],
)
def test_receipt_parse(payload, expected):
    assert sms_receipt_parse(payload) == expected


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


RECEIPT = b'{"id": "m1", "status": "delivered"}'


@pytest.mark.parametrize(
    ("signature", "valid"),
    [
        (_sign("receipt-secret", RECEIPT), True),
        (_sign("receipt-secret", RECEIPT).upper(), True),
        ("sha256=" + _sign("receipt-secret", RECEIPT), True),
        (_sign("other-secret", RECEIPT), False),
        (_sign("receipt-secret", RECEIPT + b" "), False),
        ("", False),
        ("ünïcode", False),
    ],
)
def test_receipt_verify(settings, signature, valid):
    settings.SMS_HTTP_RECEIPT_SECRET = "receipt-secret"
    assert sms_receipt_verify(RECEIPT, signature) is valid


def test_receipt_verify_refuses_everything_without_a_secret(settings):
    settings.SMS_HTTP_RECEIPT_SECRET = ""
    assert sms_receipt_verify(RECEIPT, _sign("", RECEIPT)) is False
