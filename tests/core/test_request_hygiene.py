"""A NUL byte anywhere in a request is a 400, never a 500 (issue 8, defect 6), and the
Permissions-Policy header is on every response."""

import json

import pytest
from django.core.exceptions import BadRequest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from apps.core.middleware import RequestHygieneMiddleware
from apps.core.models import AuditEvent
from apps.customers.models import Customer

pytestmark = pytest.mark.django_db

PLAIN_400 = b"<h1>Bad Request (400)</h1>"
NUL_ENVELOPE = {
    "code": "nul_byte",
    "message": "The request contains a NUL character, which is never valid.",
}


@pytest.mark.parametrize(
    "path",
    [
        "/r/a%00b/",
        "/staff/loyalty/members/a%00b/",
        "/staff/customers/export/?q=a%00b",
        "/staff/customers/?q=%00",
        "/staff/customers/?a%00=1",
        "/me/",
        "/u/%00/",
    ],
)
def test_nul_in_a_site_address_is_a_plain_400(client, manager, customer, path):
    client.force_login(manager)
    audit_before = AuditEvent.objects.count()
    response = client.get(path.replace("/me/", "/me/?next=%00"))
    assert response.status_code == 400
    assert PLAIN_400 in response.content
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/a%00b/points/",
        "/api/v1/customers/a%00b/",
        "/api/v1/customers/?q=a%00b",
        "/api/v1/customers/1234567897/points/transactions/?cursor=%00",
        "/api/no%00such/",
    ],
)
def test_nul_in_an_api_address_is_the_400_envelope(api, customer, path):
    response = api.get(path)
    assert response.status_code == 400
    assert response.json() == NUL_ENVELOPE


def test_nul_in_a_json_body_is_refused_and_writes_nothing(api, store):
    audit_before = AuditEvent.objects.count()
    body = '{"first_name": "Ann\\u0000", "email": "ann@example.org"}'
    response = api.post(
        reverse("api:customer-list"),
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-nul",
    )
    assert response.status_code == 400
    assert response.json() == NUL_ENVELOPE
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == audit_before


def test_an_escaped_backslash_before_u0000_is_text_not_nul(api, store):
    # JSON "Ann\\u0000" is the seven characters A n n \ u 0 0 0 0: no NUL in it.
    body = '{"first_name": "Ann\\\\u0000", "email": "ann@example.org"}'
    response = api.post(reverse("api:customer-list"), body, content_type="application/json")
    assert response.status_code == 201
    assert Customer.objects.get().first_name == "Ann\\u0000"


def test_nul_in_a_form_body_is_refused_and_writes_nothing(client, agent, store):
    client.force_login(agent)
    audit_before = AuditEvent.objects.count()
    response = client.post(
        reverse("dashboard:customer-create"),
        "first_name=Mei%00&last_name=Chen&email=mei%40example.org&store=sh-01",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert PLAIN_400 in response.content
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == audit_before


def test_nul_in_a_header_is_refused(api, client, customer):
    response = api.get(reverse("api:customer-list"), HTTP_X_REQUEST_ID="a\x00b")
    assert response.status_code == 400
    assert response.json() == NUL_ENVELOPE
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="en\x00").status_code == 400


def test_nul_in_the_session_cookie_is_refused(client, member):
    # A quoted cookie spells NUL as the octal escape \000 (http.cookies unquotes it).
    response = client.get("/me/", HTTP_COOKIE='sessionid="a\\000b"')
    assert response.status_code == 400
    assert PLAIN_400 in response.content


def _hygiene(request):
    return RequestHygieneMiddleware(lambda request: HttpResponse("passed"))(request)


def test_multipart_fields_are_checked_file_contents_are_not():
    factory = RequestFactory()
    binary = SimpleUploadedFile("members.xlsx", b"PK\x03\x04\x00\x00\x00")
    ok = factory.post("/staff/data/import/", {"kind": "customers", "file": binary})
    assert _hygiene(ok).content == b"passed"
    bad_field = factory.post("/staff/data/import/", {"kind": "cus\x00tomers"})
    with pytest.raises(BadRequest):
        _hygiene(bad_field)


def test_a_raw_nul_byte_in_a_json_body_is_refused():
    request = RequestFactory().post(
        "/api/v1/orders/", b'{"a": "\x00"}', content_type="application/json"
    )
    response = _hygiene(request)
    assert response.status_code == 400
    assert json.loads(response.content) == NUL_ENVELOPE


def test_a_clean_request_passes(client, customer):
    request = RequestFactory().post(
        "/api/v1/orders/", b'{"a": "b\\\\u0000"}', content_type="application/json"
    )
    assert _hygiene(request).content == b"passed"
    assert client.get("/r/abc/").status_code in (200, 302, 404)


@pytest.mark.parametrize("path", ["/", "/api/v1/customers/", "/r/a%00b/", "/staff/"])
def test_every_response_carries_a_permissions_policy(client, path):
    policy = client.get(path)["Permissions-Policy"]
    features = dict(item.split("=") for item in policy.split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()"


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "\u00b2"])
def test_a_content_length_that_is_not_a_number_is_400(api, client, store, length):
    body = '{"first_name": "Ann", "email": "ann@example.org"}'
    response = api.post(
        reverse("api:customer-list"), body, content_type="application/json", CONTENT_LENGTH=length
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_content_length",
        "message": "The Content-Length header is not a number.",
    }
    form = client.post(
        "/accounts/login/", "login=a", content_type="text/plain", CONTENT_LENGTH=length
    )
    assert form.status_code == 400
    assert Customer.objects.count() == 0


def test_a_refusal_answers_in_the_clients_language(api, customer):
    response = api.get("/api/v1/customers/a%00b/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert response["Content-Language"] == "zh-hans"


def test_too_many_form_fields_under_the_api_is_the_400_envelope(api, store, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = "&".join(f"f{i}=x" for i in range(11))
    response = api.post(
        reverse("api:customer-list"),
        f"email=ann%40example.org&{fields}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_fields"
    assert Customer.objects.count() == 0


def test_a_malformed_multipart_body_under_the_api_is_the_400_envelope(api, store):
    response = api.generic(
        "POST",
        reverse("api:customer-list"),
        b"--x\r\nnot a part",
        content_type="multipart/form-data",  # no boundary: the parser cannot read it
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Customer.objects.count() == 0
