"""The member's complaints: file with photos, follow, reply, reopen, rate (one click from the
e-mail); another member's ticket is 404; a hostile upload is refused and nothing is stored."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from apps.complaints.enums import TicketStatus
from apps.complaints.links import rating_token_make
from apps.complaints.models import Attachment, Ticket, TicketMessage
from apps.complaints.services.conversation import staff_reply
from apps.complaints.services.lifecycle import ticket_status_set
from apps.complaints.services.tickets import ticket_open
from apps.core.private_files import private_storage
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.customers.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def category(db):
    SLAPolicyFactory(position=1)
    return CategoryFactory(code="product", name_en="Product quality", name_zh_hans="产品质量")


def _file(client, category, **extra):
    data = {
        "category": str(category.pk),
        "subject": "Cracked mug",
        "description": "Arrived broken.",
    }
    data.update(extra)
    return client.post(reverse("portal:complaint-new"), data)


def test_a_member_files_a_complaint_with_a_photo_about_their_order(client, member, category):
    user, customer = member
    order = OrderFactory(customer=customer)
    client.force_login(user)
    page = client.get(reverse("portal:complaint-new"))
    assert page.status_code == 200 and order.external_id not in page.content.decode()
    photo = SimpleUploadedFile("mug.png", _png(), content_type="image/png")
    response = _file(client, category, order=str(order.pk), attachments=[photo])
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:complaint-detail", args=[ticket.reference])
    assert ticket.customer == customer and ticket.order == order and ticket.channel == "portal"
    attachment = Attachment.objects.get()
    assert attachment.name == "mug.png" and private_storage().exists(attachment.file.name)
    download = client.get(
        reverse("portal:complaint-attachment", args=[ticket.reference, attachment.pk])
    )
    assert download.status_code == 200 and download["X-Content-Type-Options"] == "nosniff"


def test_a_renamed_executable_is_refused_and_nothing_is_stored(client, member, category):
    user, _customer = member
    client.force_login(user)
    bad = SimpleUploadedFile("photo.png", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/png")
    response = _file(client, category, attachments=[bad])
    assert response.status_code == 200
    assert "photo.png is not a JPEG, PNG, WebP image or PDF" in response.content.decode()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_another_members_ticket_and_files_are_not_found(client, member, other_member, category):
    _user, customer = member
    ticket = ticket_open(
        customer=customer, category=category, subject="Mine", description="x", channel="portal"
    )
    client.force_login(other_member[0])
    assert (
        client.get(reverse("portal:complaint-detail", args=[ticket.reference])).status_code == 404
    )
    response = client.post(
        reverse("portal:complaint-detail", args=[ticket.reference]), {"body": "hijack"}
    )
    assert response.status_code == 404 and not TicketMessage.objects.exists()


def test_the_member_never_sees_internal_notes(client, member, category, agent):
    user, customer = member
    ticket = ticket_open(
        customer=customer, category=category, subject="Late", description="x", channel="portal"
    )
    staff_reply(ticket=ticket, author=agent, body="We are on it")
    staff_reply(ticket=ticket, author=agent, body="SECRET NOTE", internal=True)
    client.force_login(user)
    page = client.get(reverse("portal:complaint-detail", args=[ticket.reference])).content.decode()
    assert "We are on it" in page and "SECRET NOTE" not in page


def test_reply_then_reopen_then_rate(client, member, category, agent):
    user, customer = member
    ticket = ticket_open(
        customer=customer, category=category, subject="Late", description="x", channel="portal"
    )
    client.force_login(user)
    detail = reverse("portal:complaint-detail", args=[ticket.reference])
    client.post(detail, {"action": "reply", "body": "Any news?"})
    assert TicketMessage.objects.get().author_kind == "customer"
    ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.RESOLVED)
    client.post(detail, {"action": "reopen"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN and ticket.reopened_count == 1
    ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.RESOLVED)
    client.post(detail, {"action": "rate", "score": "4", "comment": "OK"})
    ticket.refresh_from_db()
    assert ticket.satisfaction == 4


def test_the_rating_link_asks_before_it_rates_and_refuses_forgeries(
    client, customer, category, agent
):
    ticket = ticket_open(
        customer=customer, category=category, subject="Late", description="x", channel="phone"
    )
    ticket_status_set(ticket=ticket, actor=agent, status=TicketStatus.RESOLVED)
    link = reverse("portal:complaint-rate", args=[rating_token_make(ticket_id=ticket.pk), 5])
    assert client.get(link).status_code == 200
    ticket.refresh_from_db()
    assert ticket.satisfaction is None  # a mail scanner following the link rates nothing
    response = client.post(link, {"score": "5"})
    assert 'data-testid="rating-done"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.satisfaction == 5
    forged = reverse(
        "portal:complaint-rate", args=[rating_token_make(ticket_id=ticket.pk) + "x", 1]
    )
    assert client.get(forged).status_code == 404


def test_complaint_list_query_budget(client, member, category, count_queries):
    user, customer = member
    client.force_login(user)
    for i in range(2):
        ticket_open(
            customer=customer, category=category, subject=f"S{i}", description="x", channel="portal"
        )
    few = count_queries(client, reverse("portal:complaints"))
    for i in range(20):
        ticket_open(
            customer=customer, category=category, subject=f"T{i}", description="x", channel="portal"
        )
    assert count_queries(client, reverse("portal:complaints")) == few


def test_refused_reopen_and_rating_say_why_and_change_nothing(client, member, category):
    user, customer = member
    ticket = ticket_open(
        customer=customer, category=category, subject="Late", description="x", channel="portal"
    )
    client.force_login(user)
    detail = reverse("portal:complaint-detail", args=[ticket.reference])
    reopen = client.post(detail, {"action": "reopen"}, follow=True)
    assert "can no longer be reopened" in reopen.content.decode()
    rate = client.post(detail, {"action": "rate", "score": "5"}, follow=True)
    assert "Only a resolved complaint can be rated." in rate.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.NEW and ticket.satisfaction is None
    assert ticket.reopened_count == 0


def test_complaint_page_query_budget_independent_of_messages(
    client, member, category, agent, count_queries
):
    user, customer = member
    ticket = ticket_open(
        customer=customer, category=category, subject="Late", description="x", channel="portal"
    )
    client.force_login(user)
    detail = reverse("portal:complaint-detail", args=[ticket.reference])
    staff_reply(ticket=ticket, author=agent, body="Hello")
    few = count_queries(client, detail)
    for i in range(10):
        staff_reply(ticket=ticket, author=agent, body=f"Reply {i}")
    assert count_queries(client, detail) == few
