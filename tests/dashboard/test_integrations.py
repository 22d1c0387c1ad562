"""The webhooks pages (/staff/integrations/): Administrators only, endpoint create / change with
SSRF refusal on the form, the secret shown once, revealed or rotated (audited), test event,
delivery log with status filter, delivery detail and replay, enable again, the staff navigation,
the Django admin, and query budgets that do not grow with rows."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.integrations.enums import DeliveryStatus
from apps.integrations.models import Delivery, Endpoint
from apps.integrations.services import endpoint_create
from tests.integrations.receiver import receiver_start, receiver_stop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def receiver():
    receiver = receiver_start()
    yield receiver
    receiver_stop(receiver)


@pytest.fixture
def endpoint(administrator, receiver):
    return endpoint_create(
        url=receiver.url,
        description="Web shop",
        event_types=["order.earned", "tier.changed"],
        actor=administrator,
    )[0]


def _deliveries(endpoint, n, status=DeliveryStatus.SUCCEEDED):
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(
                endpoint=endpoint,
                event_id=uuid.uuid4(),
                event_name="order.earned",
                payload={"type": "order.earned", "data": {"member_number": f"M{i}"}},
                status=status,
                attempts=1,
                response_code=200 if status == DeliveryStatus.SUCCEEDED else 500,
                created_at=now,
            )
            for i in range(n)
        ]
    )


def _urls(endpoint, delivery=None):
    urls = [
        ("get", reverse("dashboard:integration-list")),
        ("get", reverse("dashboard:integration-create")),
        ("get", reverse("dashboard:integration-detail", args=[endpoint.pk])),
        ("get", reverse("dashboard:integration-edit", args=[endpoint.pk])),
        ("post", reverse("dashboard:integration-secret-reveal", args=[endpoint.pk])),
        ("post", reverse("dashboard:integration-secret-rotate", args=[endpoint.pk])),
        ("post", reverse("dashboard:integration-test", args=[endpoint.pk])),
        ("post", reverse("dashboard:integration-disable", args=[endpoint.pk])),
        ("post", reverse("dashboard:integration-enable", args=[endpoint.pk])),
    ]
    if delivery is not None:
        args = [endpoint.pk, delivery.pk]
        urls += [
            ("get", reverse("dashboard:integration-delivery", args=args)),
            ("post", reverse("dashboard:integration-delivery-replay", args=args)),
        ]
    return urls


@pytest.mark.parametrize("role", ["agent", "marketer", "manager"])
def test_other_roles_get_403_and_change_nothing(client, request, role, endpoint):
    _deliveries(endpoint, 1, status=DeliveryStatus.FAILED)
    delivery = Delivery.objects.get()
    secret = endpoint.secret
    client.force_login(request.getfixturevalue(role))
    for method, url in _urls(endpoint, delivery):
        assert getattr(client, method)(url).status_code == 403, url
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert endpoint.secret == secret and endpoint.active
    assert delivery.status == DeliveryStatus.FAILED and Delivery.objects.count() == 1
    assert (
        not AuditEvent.objects.filter(action__startswith="webhook.")
        .exclude(action="webhook.endpoint_create")
        .exists()
    )


def test_anonymous_goes_to_login(client):
    response = client.get(reverse("dashboard:integration-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_navigation_shows_webhooks_to_administrators_only(client, administrator, manager):
    client.force_login(manager)
    url = reverse("dashboard:integration-list")
    assert url not in client.get(reverse("dashboard:home")).content.decode()
    client.force_login(administrator)
    assert url in client.get(reverse("dashboard:home")).content.decode()


def test_create_shows_the_secret_once(client, administrator, receiver):
    client.force_login(administrator)
    page = client.get(reverse("dashboard:integration-create")).content.decode()
    assert "Order earned points" in page and 'type="checkbox"' in page
    response = client.post(
        reverse("dashboard:integration-create"),
        {
            "url": receiver.url,
            "description": "Data warehouse",
            "event_types": ["order.earned", "consent.changed"],
        },
    )
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:integration-detail", args=[endpoint.pk])
    assert endpoint.event_types == ["order.earned", "consent.changed"]
    assert endpoint.created_by == administrator
    first = client.get(response["Location"]).content.decode()
    again = client.get(response["Location"]).content.decode()
    assert endpoint.secret in first and endpoint.secret not in again
    assert AuditEvent.objects.filter(action="webhook.endpoint_create").count() == 1


@pytest.mark.parametrize(
    "url, allow_http",
    [
        ("http://93.184.216.34/hook", False),
        ("https://169.254.169.254/latest/meta-data/", True),
        ("https://127.0.0.1/hook", True),
    ],
)
def test_create_refuses_plain_http_and_private_addresses(
    client, administrator, settings, url, allow_http
):
    settings.WEBHOOK_ALLOW_HTTP = allow_http
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:integration-create"), {"url": url, "event_types": ["order.earned"]}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["url"]
    assert not Endpoint.objects.exists()


def test_create_needs_an_event(client, administrator, receiver):
    client.force_login(administrator)
    response = client.post(reverse("dashboard:integration-create"), {"url": receiver.url})
    assert response.status_code == 400 and response.context["form"].errors["event_types"]
    assert not Endpoint.objects.exists()


def test_edit_changes_the_events(client, administrator, endpoint):
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:integration-edit", args=[endpoint.pk]),
        {"url": endpoint.url, "description": "Shop", "event_types": ["ticket.opened"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["ticket.opened"] and endpoint.description == "Shop"
    assert AuditEvent.objects.filter(action="webhook.endpoint_update").count() == 1


def test_reveal_and_rotate_the_secret(client, administrator, endpoint):
    client.force_login(administrator)
    detail = reverse("dashboard:integration-detail", args=[endpoint.pk])
    assert endpoint.secret not in client.get(detail).content.decode()
    response = client.post(reverse("dashboard:integration-secret-reveal", args=[endpoint.pk]))
    assert response["Location"] == detail
    assert endpoint.secret in client.get(detail).content.decode()
    old = endpoint.secret
    client.post(reverse("dashboard:integration-secret-rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in client.get(detail).content.decode()
    assert list(
        AuditEvent.objects.filter(action__startswith="webhook.secret")
        .order_by("at")
        .values_list("action", flat=True)
    ) == ["webhook.secret_reveal", "webhook.secret_rotate"]
    assert not AuditEvent.objects.filter(summary__contains="whsec_").exists()


def test_send_a_test_event_shows_in_the_log(
    client, administrator, endpoint, receiver, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dashboard:integration-test", args=[endpoint.pk]))
    assert receiver.requests[0].headers["Clientele-Event"] == "webhook.test"
    page = client.get(reverse("dashboard:integration-detail", args=[endpoint.pk]))
    assert page.context["deliveries"][0][0].status == DeliveryStatus.SUCCEEDED
    assert "Test event" in page.content.decode()


def test_the_log_filters_by_status(client, administrator, endpoint):
    _deliveries(endpoint, 3)
    _deliveries(endpoint, 2, status=DeliveryStatus.FAILED)
    client.force_login(administrator)
    url = reverse("dashboard:integration-detail", args=[endpoint.pk])
    assert client.get(url).context["page_obj"].paginator.count == 5
    failed = client.get(url, {"status": "failed"}).context["deliveries"]
    assert [d.status for d, _label in failed] == ["failed", "failed"]


def test_replay_a_failed_delivery(
    client, administrator, endpoint, receiver, django_capture_on_commit_callbacks
):
    _deliveries(endpoint, 1, status=DeliveryStatus.FAILED)
    delivery = Delivery.objects.get()
    client.force_login(administrator)
    page = client.get(reverse("dashboard:integration-delivery", args=[endpoint.pk, delivery.pk]))
    body = page.content.decode()
    assert "M0" in body and "Send again" in body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dashboard:integration-delivery-replay", args=[endpoint.pk, delivery.pk])
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.replayed_by == administrator
    assert receiver.requests[0].headers["Clientele-Delivery"] == str(delivery.pk)


def test_replay_needs_csrf(administrator, endpoint):
    _deliveries(endpoint, 1, status=DeliveryStatus.FAILED)
    delivery = Delivery.objects.get()
    client = Client(enforce_csrf_checks=True)
    client.force_login(administrator)
    response = client.post(
        reverse("dashboard:integration-delivery-replay", args=[endpoint.pk, delivery.pk])
    )
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_a_delivery_of_another_endpoint_is_404(client, administrator, endpoint, receiver):
    other = endpoint_create(url=receiver.url, event_types=["tier.changed"], actor=administrator)[0]
    _deliveries(other, 1)
    client.force_login(administrator)
    url = reverse("dashboard:integration-delivery", args=[endpoint.pk, Delivery.objects.get().pk])
    assert client.get(url).status_code == 404


def test_a_disabled_endpoint_is_announced_and_can_be_enabled_again(client, administrator, endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_at=timezone.now(), disabled_reason="25 consecutive failed attempts"
    )
    client.force_login(administrator)
    page = client.get(reverse("dashboard:integration-list")).content.decode()
    assert "was disabled on" in page and "25 consecutive failed attempts" in page
    client.post(reverse("dashboard:integration-enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None
    assert (
        "was disabled on" not in client.get(reverse("dashboard:integration-list")).content.decode()
    )


def test_list_query_budget_does_not_grow_with_endpoints(
    client, administrator, receiver, count_queries
):
    client.force_login(administrator)
    endpoint_create(url=receiver.url, event_types=["order.earned"], actor=administrator)
    one = count_queries(client, reverse("dashboard:integration-list"))
    for i in range(20):
        endpoint_create(
            url=receiver.url, description=f"E{i}", event_types=["tier.changed"], actor=administrator
        )
    assert count_queries(client, reverse("dashboard:integration-list")) == one


def test_log_query_budget_does_not_grow_with_deliveries(
    client, administrator, endpoint, count_queries
):
    client.force_login(administrator)
    _deliveries(endpoint, 1)
    url = reverse("dashboard:integration-detail", args=[endpoint.pk])
    one = count_queries(client, url)
    _deliveries(endpoint, 60)
    assert count_queries(client, url) == one


def test_admin_lists_the_log_and_replays_through_the_service(
    client, administrator, endpoint, receiver, django_capture_on_commit_callbacks
):
    _deliveries(endpoint, 1, status=DeliveryStatus.FAILED)
    client.force_login(administrator)
    assert client.get(reverse("admin:integrations_endpoint_changelist")).status_code == 200
    assert client.get(reverse("admin:integrations_delivery_changelist")).status_code == 200
    delivery = Delivery.objects.get()
    detail = client.get(reverse("admin:integrations_endpoint_change", args=[endpoint.pk]))
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:integrations_delivery_changelist"),
            {"action": "replay", "_selected_action": [str(delivery.pk)]},
        )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="webhook.delivery_replay").count() == 1


def test_event_checkboxes_carry_translated_labels(client, administrator):
    client.force_login(administrator)
    page = client.get(reverse("dashboard:integration-create"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = page.content.decode()
    assert "订单获得积分" in body and "退款扣回积分" in body and "Order earned points" not in body
