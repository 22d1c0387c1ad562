"""Where an endpoint may point: https only (http when allowed), never this machine or its
private networks, checked when saved and again, on the resolved address, at every send."""

import pytest

from apps.core.models import AuditEvent
from apps.integrations import transport
from apps.integrations.enums import DeliveryStatus
from apps.integrations.exceptions import EndpointRefused
from apps.integrations.models import Endpoint
from apps.integrations.services import endpoint_create, endpoint_test_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    return settings


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10:8443/hook",
        "https://172.16.5.4/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fe80::1]/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_destinations_are_refused(strict, administrator, url):
    with pytest.raises(EndpointRefused) as refused:
        endpoint_create(url=url, event_types=["order.earned"], actor=administrator)
    assert refused.value.extra["field"] == "url"
    assert not Endpoint.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook.endpoint_create").exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",
        "ftp://93.184.216.34/hook",
        "https://user:pw@93.184.216.34/hook",
        "https:///nohost",
        "not a url",
    ],
)
def test_plain_http_credentials_and_malformed_urls_are_refused(strict, administrator, url):
    with pytest.raises(EndpointRefused):
        endpoint_create(url=url, event_types=["order.earned"], actor=administrator)
    assert not Endpoint.objects.exists()


def test_a_public_https_address_is_accepted(strict, administrator):
    endpoint, secret = endpoint_create(
        url="https://93.184.216.34/hook", event_types=["order.earned"], actor=administrator
    )
    assert endpoint.url == "https://93.184.216.34/hook" and secret.startswith("whsec_")


def test_http_is_accepted_only_when_the_setting_allows_it(settings, administrator):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert transport.url_check("http://93.184.216.34/x")[0] == "http"
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(EndpointRefused):
        transport.url_check("http://93.184.216.34/x")


def test_the_address_is_checked_again_at_send_time(
    receiver, make_endpoint, settings, administrator, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(receiver.url)  # saved while private addresses were allowed
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with django_capture_on_commit_callbacks(execute=True):
        delivery = endpoint_test_send(endpoint=endpoint, actor=administrator)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.response_code is None
    assert "private" in delivery.error
    assert receiver.requests == []


def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(monkeypatch, strict):
    # DNS rebinding: the name passed when saved, now it leads inside. The resolver is the one
    # thing replaced: it would otherwise leave the machine.
    monkeypatch.setattr(
        transport.socket,
        "getaddrinfo",
        lambda *a, **k: [(2, 1, 6, "", ("10.0.0.7", 443))],
    )
    outcome = transport.post(url="https://hooks.example.com/x", body=b"{}", headers={})
    assert outcome.status is None and not outcome.ok and "private" in outcome.error
